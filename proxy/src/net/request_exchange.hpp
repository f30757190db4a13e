#pragma once
// One request on a client connection: the decision, then either a local answer (429, errors)
// or the exchange with the upstream, both bodies streamed through a fixed buffer.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include "net/io_types.hpp"
#include "net/http_io.hpp"

#include "limiter/limiter.hpp"
#include "net/local_response.hpp"
#include "net/proxy_snapshot.hpp"
#include "net/upstream_pool.hpp"
#include "routing/admission.hpp"

namespace sluice::net {

class head_writer;

class downstream_session;

/// The request parser type: headers first, then the body in buffer-sized pieces.
using request_parser = body_parser<true>;

/// Handles one request whose headers have been read.
class request_exchange {
 public:
  /// `parser` has read the headers; `snap` is the config this request runs under.
  request_exchange(downstream_session& session, std::shared_ptr<const proxy_snapshot> snap,
                   request_parser& parser);
  ~request_exchange();
  request_exchange(const request_exchange&) = delete;
  request_exchange& operator=(const request_exchange&) = delete;

  /// Runs the request to its end; true when the connection may carry another request.
  task<bool> run();

 private:
  enum class outcome { allowed, limited, exempt, error, shadow };

  void decide();
  void record_metrics(std::chrono::steady_clock::time_point now) const;
  task<bool> respond_limited();
  task<bool> respond_refused(boost::beast::http::status status, std::string_view message,
                             std::string_view limit, std::uint64_t retry_s);
  task<bool> upgrade();
  bool wants_websocket() const;
  /// Sends the request upstream and relays the answer. An error the client must hear of before
  /// any of the response went out is left in `forward_error_` for run() to answer.
  task<bool> forward();
  bool fail_forward(boost::beast::http::status status, std::string_view message);
  task<bool> respond_error(boost::beast::http::status status,
                                             std::string_view message);
  task<bool> answer(local_response& r);
  void build_upstream_head(body_framing framing, std::string& out) const;
  void build_client_head(const http1::response_parser& res, bool keep_alive,
                         bool drop_transfer_encoding, std::string& out) const;
  void append_rate_limit_fields(head_writer& out) const;
  char* body_buffer();
  /// The canonical target, path and query, as sent upstream.
  std::string upstream_target() const;

  downstream_session& session_;
  std::shared_ptr<const proxy_snapshot> snap_;
  const config::config& cfg_;
  request_parser& parser_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point upstream_start_{};
  std::chrono::steady_clock::time_point upstream_end_{};
  // A WebSocket's request ends at its 101: its metrics (duration, in flight) stop there, not
  // when the connection closes hours later.
  std::chrono::steady_clock::time_point upgraded_at_{};
  routing::admission& adm_;  // the session's: its buffers outlive the request
  const config::route* route_ = nullptr;
  std::string client_text_;
  std::string& request_id_;  // the session's buffer: no allocation per request
  std::string_view expect_;  // the Expect field (points into the parser's fields)
  unsigned version_ = 11;
  bool client_keep_alive_ = true;
  bool is_head_ = false;
  outcome outcome_ = outcome::error;
  unsigned status_ = 0;
  limiter::decision decision_;
  bool decided_ = false;  // the limiter was asked (RateLimit fields apply)
  bool holds_in_flight_ = false;
  // The upstream's response. Here rather than in forward(): a coroutine frame over about 1 KiB
  // is never recycled by Asio's per-thread cache, so it would cost a malloc and a free per
  // request, and the parser alone is three quarters of that.
  std::optional<http1::response_parser> response_;
  // The answer forward() left for run() to send (its message is a literal). Answering from
  // forward() itself would add a slot to its frame for each of its six ways to fail.
  boost::beast::http::status forward_error_ = boost::beast::http::status::unknown;
  std::string_view forward_error_message_;
};

}  // namespace sluice::net
