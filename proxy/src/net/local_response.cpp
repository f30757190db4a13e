#include "net/local_response.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <nlohmann/json.hpp>

#include "net/http_io.hpp"

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

task<bool> send_local(socket_t& socket, deadline& dl,
                                 const local_response& r, const config::config& cfg) {
  std::string out;
  out.reserve(256 + r.body.size());
  out.append(r.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out.append(std::to_string(static_cast<unsigned>(r.status)));
  out.push_back(' ');
  out.append(http::obsolete_reason(r.status));
  out.append("\r\n");
  if (!r.content_type.empty()) out.append("Content-Type: ").append(r.content_type).append("\r\n");
  out.append("Cache-Control: no-store\r\n");
  for (const auto& [name, value] : r.headers) out.append(name).append(": ").append(value).append("\r\n");
  out.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
  if (r.version == 10 && r.keep_alive) out.append("Connection: keep-alive\r\n");
  if (r.version != 10 && !r.keep_alive) out.append("Connection: close\r\n");
  out.append("\r\n").append(r.body);
  const std::array<asio::const_buffer, 1> bufs{asio::buffer(out)};
  const auto ec = co_await write_all(socket, dl, cfg.timeouts.body, bufs);
  co_return !ec;
}

task<unsigned> reject_unreadable(socket_t& socket, deadline& dl,
                                        boost::system::error_code ec, const config::config& cfg) {
  local_response r;
  if (ec == http::error::header_limit) {
    r.status = http::status::request_header_fields_too_large;
    r.body = json_error("request header too large",
                        {{"limit_bytes", std::to_string(cfg.caps.max_header_bytes)}});
  } else if (ec == http::error::body_limit) {
    r.status = http::status::payload_too_large;
    r.body = json_error("request body too large",
                        {{"limit_bytes", std::to_string(cfg.caps.max_body_bytes)}});
  } else if (ec == beast::error::timeout || ec == http::error::end_of_stream ||
             ec == asio::error::eof || ec == asio::error::connection_reset ||
             ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor ||
             ec == http::error::partial_message) {
    // The client left, we are stopping, or it was too slow (the deadline closed the socket,
    // as it should against slowloris): nobody to answer.
    co_return 0;
  } else {
    r.status = http::status::bad_request;
    r.body = json_error("malformed request", {{"detail", ec.message()}});
  }
  co_await send_local(socket, dl, r, cfg);
  co_return static_cast<unsigned>(r.status);
}

}  // namespace sluice::net
