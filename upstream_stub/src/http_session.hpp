// One downstream connection: reads requests in order, routes them, writes the answers.
#pragma once

#include "router.hpp"
#include "stub_counters.hpp"
#include "stub_net.hpp"

#include <chrono>
#include <string>

namespace sluice::stub {

/// An HTTP/1.1 connection served by one coroutine, so pipelined requests are answered in order.
class http_session {
 public:
  /// Serves a connection until the client leaves, a deadline passes or a request cannot be read.
  static net::awaitable<void> serve(tcp::socket socket, const router& routes,
                                    stub_counters& counters);

 private:
  /// Takes the accepted socket; the routes and counters outlive every session.
  http_session(tcp::socket socket, const router& routes, stub_counters& counters);
  /// The request loop.
  net::awaitable<void> run();
  /// Waits for the first byte of the next request under the idle (or, on a new connection, header)
  /// deadline; false when the client closed or went quiet.
  net::awaitable<bool> wait_for_request(bool first_request);
  /// Reads the body into memory (capped), runs the handler and writes its response.
  net::awaitable<exchange_result> serve_buffered(
      http::request_parser<http::empty_body>& header_parser, const buffered_handler& handler,
      const request_target& target);
  /// Fills version, keep-alive and length in, then writes the response (header only for HEAD).
  net::awaitable<exchange_result> send(string_response res, unsigned version, bool keep_alive,
                                       bool head_only);
  /// Writes the one-line log entry of a finished request.
  void log_request(std::string_view method, std::string_view target, http::status status,
                   std::chrono::steady_clock::time_point started) const;
  /// Half-closes the connection so the peer sees the last response before the FIN.
  void shut_down();

  /// The connection, with the deadline of the pending operation.
  beast::tcp_stream stream_;
  /// Bytes read and not yet parsed, pipelined requests included.
  beast::flat_buffer buffer_;
  /// Shared route table, read-only once serving.
  const router& routes_;
  /// Process-wide counters.
  stub_counters& counters_;
  /// Client "address:port", for log lines.
  std::string peer_;
};

}  // namespace sluice::stub
