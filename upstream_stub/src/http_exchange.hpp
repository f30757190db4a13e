// One request handed to a streaming handler, which reads the body and writes the response itself.
#pragma once

#include "json_response.hpp"
#include "stub_net.hpp"

namespace sluice::stub {

/// How a streaming exchange ended: what was sent, for the log, and whether the connection is
/// reusable.
struct exchange_result {
  /// Status line sent to the client (or the one that would have been, if writing failed).
  http::status status = http::status::ok;
  /// False when the body was not fully read or the response not fully written: the session closes.
  bool keep_alive = false;
};

/// The connection and the parsed request header; the body is still on the wire.
class http_exchange {
 public:
  /// Wraps the session's stream, its read buffer and the parser that has read the header.
  http_exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                http::request_parser<http::empty_body>& header_parser);

  /// The request line and fields.
  const http::request<http::empty_body>& request() const { return header_parser_.get(); }
  /// The parser to move into a body-reading parser (`request_parser<buffer_body>{std::move(...)}`).
  http::request_parser<http::empty_body>& header_parser() { return header_parser_; }
  /// The connection; set a deadline before each operation.
  beast::tcp_stream& stream() { return stream_; }
  /// Bytes already read past the header (pipelined data and the start of the body).
  beast::flat_buffer& buffer() { return buffer_; }

  /// Sends "100 Continue" if the client sent Expect: 100-continue; call before reading the body.
  net::awaitable<beast::error_code> continue_if_expected();
  /// Answers with a whole response before the body was touched; the connection is kept only if
  /// the request had no body left unread.
  net::awaitable<exchange_result> respond(string_response res);

  /// Fills version, keep-alive, Server and Content-Length in and writes `res` (header only for
  /// HEAD); the one place every buffered answer of the stub goes through.
  static net::awaitable<exchange_result> write(beast::tcp_stream& stream, string_response res,
                                               unsigned version, bool keep_alive, bool head_only);

 private:
  /// The session's connection.
  beast::tcp_stream& stream_;
  /// The session's read buffer; bytes past this request stay in it.
  beast::flat_buffer& buffer_;
  /// The parser that has read the header.
  http::request_parser<http::empty_body>& header_parser_;
};

}  // namespace sluice::stub
