#pragma once
// The upstream leg of one request: the head and body sent, the response head read past interim
// answers, then relayed to the client with the body streamed through the connection's buffer.
// Pooled connections are taken and given back here; failures before the client heard anything
// are left for the request exchange to answer.

#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/status.hpp>

#include "http1/response_parser.hpp"
#include "net/io_types.hpp"

namespace sluice::net {

class request_exchange;

/// Forwards one request; lives inside its request_exchange.
class upstream_exchange {
 public:
  /// For `ex`'s request, once it has been decided and admitted.
  explicit upstream_exchange(request_exchange& ex) : ex_(ex) {}
  upstream_exchange(const upstream_exchange&) = delete;
  upstream_exchange& operator=(const upstream_exchange&) = delete;

  /// Sends the request and relays the answer; true when the client connection may carry
  /// another request. When it fails before any of the response went out, error() says what
  /// the client must be answered.
  task<bool> run();
  /// The answer run() left for the exchange to send; unknown when there is none.
  boost::beast::http::status error() const { return error_; }
  /// The message of that answer (a literal).
  std::string_view error_message() const { return error_message_; }

 private:
  bool fail(boost::beast::http::status status, std::string_view message);
  void write_client_head(const http1::response_parser& res, bool keep_alive,
                         bool drop_transfer_encoding, std::string& out) const;

  request_exchange& ex_;
  // Here rather than in run(): a coroutine frame over about 1 KiB is never recycled by Asio's
  // per-thread cache, so it would cost a malloc and a free per request, and the parser alone is
  // three quarters of that.
  std::optional<http1::response_parser> response_;
  boost::beast::http::status error_ = boost::beast::http::status::unknown;
  std::string_view error_message_;
};

}  // namespace sluice::net
