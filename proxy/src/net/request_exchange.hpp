#pragma once
// One request on a client connection, from its parsed head to its end: framing checks, the
// decision and the limiter, then a local answer (400, 429, errors) or one of the two ways on:
// the upstream exchange, or a WebSocket upgrade. What the request did is kept in its record,
// which turns into metrics and an access-log line when the exchange ends.

#include <memory>
#include <string>
#include <string_view>

#include <boost/beast/http/status.hpp>

#include "limiter/limiter.hpp"
#include "net/forwarding_head.hpp"
#include "net/http_io.hpp"
#include "net/io_types.hpp"
#include "net/local_response.hpp"
#include "net/proxy_snapshot.hpp"
#include "net/request_record.hpp"
#include "net/upstream_exchange.hpp"
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
  // The two ways on share the exchange's state and its local answers.
  friend class upstream_exchange;
  friend class websocket_upgrade;

  /// An answer the exchange gives itself; status unknown: none.
  struct local_error {
    boost::beast::http::status status = boost::beast::http::status::unknown;
    std::string_view message;  ///< a literal, or the admission's message
  };
  /// Everything before the ways on: request id, framing checks, the decision and the limiter.
  local_error judge();
  void decide();
  task<bool> respond_limited();
  /// 503 and a close: a request on a reserve connection that is not exempt.
  task<bool> respond_refused(boost::beast::http::status status, std::string_view message,
                             std::string_view limit, std::uint64_t retry_s);
  task<bool> respond_error(boost::beast::http::status status, std::string_view message);
  task<bool> answer(local_response& r);
  void append_rate_limit_fields(head_writer& out) const;
  /// What the upstream is told about this request besides its own fields.
  forwarding_context forwarding() const;
  /// The canonical target, path and query, as sent upstream.
  std::string upstream_target() const;

  downstream_session& session_;
  std::shared_ptr<const proxy_snapshot> snap_;
  const config::config& cfg_;
  request_parser& parser_;
  routing::admission& adm_;  // the session's: its buffers are reused from request to request
  std::string& request_id_;  // the session's buffer: no allocation per request
  const config::route* route_ = nullptr;
  std::string_view expect_;  // the Expect field (points into the parser's fields)
  unsigned version_ = 11;
  bool client_keep_alive_ = true;
  bool is_head_ = false;
  limiter::decision decision_;
  bool decided_ = false;  // the limiter was asked (RateLimit fields apply)
  bool holds_in_flight_ = false;
  bool reserve_refused_ = false;  // a non-exempt request on a reserve connection
  request_record record_;
  upstream_exchange upstream_;
};

}  // namespace sluice::net
