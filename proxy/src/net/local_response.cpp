#include "net/local_response.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

namespace sluice::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string json_error(std::string_view message,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> more) {
  nlohmann::json j;
  j["error"] = message;
  for (const auto& [k, v] : more) j[std::string(k)] = v;
  return j.dump();
}

asio::awaitable<bool> send_local(beast::tcp_stream& stream, const local_response& r,
                                 const config::config& cfg) {
  http::response<http::string_body> res{r.status, r.version};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  for (const auto& [name, value] : r.headers) res.set(name, value);
  res.body() = r.body;
  res.keep_alive(r.keep_alive);
  res.prepare_payload();
  stream.expires_after(cfg.timeouts.body);
  auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
  co_return !ec;
}

asio::awaitable<void> reject_unreadable(beast::tcp_stream& stream, boost::system::error_code ec,
                                        const config::config& cfg) {
  local_response r;
  if (ec == http::error::header_limit) {
    r.status = http::status::request_header_fields_too_large;
    r.body = json_error("request header too large",
                        {{"limit_bytes", std::to_string(cfg.caps.max_header_bytes)}});
  } else if (ec == http::error::body_limit) {
    r.status = http::status::payload_too_large;
    r.body = json_error("request body too large",
                        {{"limit_bytes", std::to_string(cfg.caps.max_body_bytes)}});
  } else if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == asio::error::eof ||
             ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
             ec == http::error::partial_message) {
    // The client left, we are stopping, or it was too slow (the deadline closed the socket,
    // as it should against slowloris): nobody to answer.
    co_return;
  } else {
    r.status = http::status::bad_request;
    r.body = json_error("malformed request", {{"detail", ec.message()}});
  }
  co_await send_local(stream, r, cfg);
}

}  // namespace sluice::net
