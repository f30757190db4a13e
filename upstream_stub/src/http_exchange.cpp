#include "http_exchange.hpp"

#include "stub_limits.hpp"

#include <boost/beast/core/string.hpp>

namespace sluice::stub {

http_exchange::http_exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                             http::request_parser<http::empty_body>& header_parser)
    : stream_(stream), buffer_(buffer), header_parser_(header_parser) {}

net::awaitable<beast::error_code> http_exchange::continue_if_expected() {
  const auto& req = request();
  const auto expect = req[http::field::expect];
  // Only HTTP/1.1 clients may wait for 100; curl does so for large uploads (and stalls a second
  // if nobody answers).
  if (req.version() < 11 || !beast::iequals(expect, "100-continue")) {
    co_return beast::error_code{};
  }
  http::response<http::empty_body> interim{http::status::continue_, 11};
  stream_.expires_after(io_timeout);
  auto [ec, written] = co_await http::async_write(stream_, interim, use_tuple);
  co_return ec;
}

net::awaitable<exchange_result> http_exchange::respond(string_response res) {
  const auto& req = request();
  co_return co_await write(stream_, std::move(res), req.version(),
                           req.keep_alive() && header_parser_.is_done(),
                           req.method() == http::verb::head);
}

net::awaitable<exchange_result> http_exchange::write(beast::tcp_stream& stream, string_response res,
                                                     unsigned version, bool keep_alive,
                                                     bool head_only) {
  res.version(version);
  res.keep_alive(keep_alive && res.keep_alive());
  res.set(http::field::server, server_header());
  res.prepare_payload();
  const exchange_result result{res.result(), res.keep_alive()};

  stream.expires_after(io_timeout);
  beast::error_code ec;
  if (head_only) {
    // Same header, Content-Length included, without the body.
    http::response<http::empty_body> header_only{std::move(res.base())};
    std::tie(ec, std::ignore) = co_await http::async_write(stream, header_only, use_tuple);
  } else {
    std::tie(ec, std::ignore) = co_await http::async_write(stream, res, use_tuple);
  }
  co_return exchange_result{result.status, result.keep_alive && !ec};
}

}  // namespace sluice::stub
