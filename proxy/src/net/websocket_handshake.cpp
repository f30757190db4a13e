#include "net/websocket_handshake.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/deadline.hpp"
#include "websocket/handshake_key.hpp"

namespace sluice::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {
constexpr auto nothrow = asio::as_tuple(use_task);
// A refusal is an error page: more than this from the upstream is not passed on (502).
constexpr std::size_t max_refusal_body_bytes = 64 * 1024;

bool is_hop_by_hop_name(std::string_view n) {
  for (const std::string_view h : {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                                   "transfer-encoding", "upgrade", "content-length",
                                   "proxy-authorization", "proxy-authenticate"})
    if (beast::iequals(n, h)) return true;
  return false;
}

// Fields each side's handshake has of its own, never passed across.
bool is_handshake_field(std::string_view n) {
  return beast::iequals(n, "sec-websocket-key") || beast::iequals(n, "sec-websocket-accept") ||
         beast::iequals(n, "sec-websocket-version") ||
         beast::iequals(n, "sec-websocket-extensions") || beast::iequals(n, "host");
}

bool has_token(std::string_view list, std::string_view token) {
  for (const auto t : http::token_list{beast::string_view(list.data(), list.size())})
    if (beast::iequals(std::string_view(t.data(), t.size()), token)) return true;
  return false;
}

// Every Sec-WebSocket-Extensions field of `m`, joined as one list.
template <class Message>
std::string extensions_of(const Message& m) {
  std::string out;
  for (const auto& f : m) {
    if (f.name() != http::field::sec_websocket_extensions) continue;
    if (!out.empty()) out += ", ";
    out.append(f.value().data(), f.value().size());
  }
  return out;
}

}  // namespace

task<upstream_upgrade> upgrade_upstream(socket_t& socket, const upstream_request& req) {
  upstream_upgrade out;
  const std::string key = websocket::make_key();
  std::string head;
  head.reserve(512);
  head.append("GET ").append(req.target).append(" HTTP/1.1\r\nHost: ").append(req.host);
  head.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ").append(key);
  head.append("\r\nSec-WebSocket-Version: 13\r\n");
  const std::string offer = websocket::make_offer(*req.compression);
  if (!offer.empty()) head.append("Sec-WebSocket-Extensions: ").append(offer).append("\r\n");
  for (const auto& [name, value] : *req.fields) head.append(name).append(": ").append(value).append("\r\n");
  head.append("\r\n");

  deadline dl(socket);
  dl.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(req.timeout));
  auto fail = [&](const boost::system::error_code& ec, std::string why) {
    if (dl.expired() || ec == beast::error::timeout) out.timed_out = true;
    else out.failed = true;
    out.error = std::move(why);
    return out;
  };
  if (auto [ec, n] = co_await asio::async_write(socket, asio::buffer(head), nothrow); ec)
    co_return fail(ec, "upgrade request not sent: " + ec.message());

  beast::flat_buffer buffer(req.max_header_bytes + max_refusal_body_bytes);
  http::response_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(req.max_header_bytes));
  parser.body_limit(max_refusal_body_bytes);
  if (auto [ec, n] = co_await http::async_read_header(socket, buffer, parser, nothrow); ec)
    co_return fail(ec, "no answer to the upgrade: " + ec.message());
  const auto& res = parser.get();
  for (const auto& f : res) {
    const std::string_view name(f.name_string().data(), f.name_string().size());
    if (is_hop_by_hop_name(name) || is_handshake_field(name)) continue;
    if (beast::iequals(name, "content-type")) {
      out.content_type.assign(f.value().data(), f.value().size());
      continue;
    }
    out.fields.emplace_back(std::string(name), std::string(f.value()));
  }
  if (res.result_int() != 101) {
    if (auto [ec, n] = co_await http::async_read(socket, buffer, parser, nothrow); ec)
      co_return fail(ec, "the upgrade's refusal not read: " + ec.message());
    dl.cancel();
    out.status = res.result_int();
    out.body = std::move(parser.get().body());
    co_return out;
  }
  dl.cancel();
  // RFC 6455 4.1: the answer a client must check before it takes the connection as a WebSocket.
  if (!beast::iequals(std::string_view(res[http::field::upgrade]), "websocket") ||
      !has_token(res[http::field::connection], "upgrade"))
    co_return fail({}, "101 without Upgrade: websocket and Connection: upgrade");
  if (res[http::field::sec_websocket_accept] != websocket::accept_for(key))
    co_return fail({}, "101 with a wrong Sec-WebSocket-Accept");
  std::string error;
  out.deflate = websocket::read_answer(extensions_of(res), *req.compression, error);
  if (!error.empty()) co_return fail({}, "101 with " + error);
  out.upgraded = true;
  out.early = beast::buffers_to_string(buffer.data());
  co_return out;
}

task<bool> switch_protocols(socket_t& socket, std::string_view key, std::string_view extensions,
                            const field_list& fields, config::duration timeout) {
  std::string head;
  head.reserve(256);
  head.append("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Accept: ");
  head.append(websocket::accept_for(key)).append("\r\n");
  if (!extensions.empty()) head.append("Sec-WebSocket-Extensions: ").append(extensions).append("\r\n");
  for (const auto& [name, value] : fields) head.append(name).append(": ").append(value).append("\r\n");
  head.append("\r\n");
  deadline dl(socket);
  dl.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout));
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(head), nothrow);
  dl.cancel();
  co_return !ec;
}

}  // namespace sluice::net
