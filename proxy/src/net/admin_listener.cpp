#include "net/admin_listener.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "net/admin_hosts.hpp"
#include "net/connection_refusal.hpp"
#include "net/peer_address.hpp"
#include "routing/key_builder.hpp"

namespace sluice::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// Admin clients are a scraper, a probe and an operator: small requests.
constexpr std::uint32_t max_admin_header = 8 * 1024;
constexpr std::uint64_t max_admin_body = 64 * 1024;
// What a refused request may still be sending is read and dropped for this long at most, so
// the kernel does not reset the connection under the answer (lingering close).
constexpr auto linger_time = std::chrono::seconds(1);
constexpr std::size_t linger_bytes = 64 * 1024;

admin_api::response refusal(http::status status, unsigned version, const std::string& message) {
  admin_api::response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = nlohmann::json{{"error", message}}.dump(2) + "\n";
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}
}  // namespace

admin_listener::admin_listener(const tcp::endpoint& address, std::vector<cidr> allow,
                               admin_api& api, shared_state& shared,
                               metrics::exposition& exposition)
    : acceptor_(ctx_), allow_(std::move(allow)), api_(api), shared_(shared),
      exposition_(exposition) {
  acceptor_.open(address.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(address);
  acceptor_.listen();
}

admin_listener::~admin_listener() { stop(); }

void admin_listener::start() {
  asio::co_spawn(ctx_, accept_loop(), asio::detached);
  thread_ = std::thread([this] { ctx_.run(); });
}

void admin_listener::stop() {
  if (!thread_.joinable()) return;
  // Connections end with their deadlines at the latest; stopping the context ends them now.
  ctx_.stop();
  thread_.join();
}

asio::awaitable<void> admin_listener::accept_loop() {
  for (;;) {
    tcp::endpoint peer;
    auto [ec, socket] = co_await acceptor_.async_accept(peer, nothrow);
    if (!acceptor_.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      asio::steady_timer pause(ctx_, std::chrono::milliseconds(50));
      co_await pause.async_wait(nothrow);
      continue;
    }
    const ip_address ip = to_ip_address(peer.address());
    bool allowed = false;
    for (const auto& c : allow_)
      if (c.contains(ip)) allowed = true;
    if (!allowed) {
      boost::system::error_code ignored;
      socket.close(ignored);  // nothing at all: not even that an admin endpoint lives here
      continue;
    }
    // An allowed peer over a cap is told so (it is an operator's tool, or a probe whose failure
    // someone will read); nothing is read and the connection closes at once.
    const auto snap = shared_.snapshot();
    const auto& a = snap->cfg().admin;
    const ip_address key = routing::key_address(ip, snap->cfg().client_ip.ipv6_prefix);
    const auto admission =
        slots_.acquire(key, false, false, {a.max_connections, a.max_connections_per_ip, 0});
    if (!admission.admitted()) {
      const bool per_ip = admission.refused == limiter::connection_refusal::per_key;
      send_refusal(socket.native_handle(),
                   per_ip ? refusal_answer::admin_per_ip : refusal_answer::admin_pool_full);
      exposition_.admin_refused(per_ip ? metrics::admin_refusal::per_ip
                                       : metrics::admin_refusal::global);
      continue;
    }
    asio::co_spawn(ctx_, serve(std::move(socket), ip, connection_slot(slots_, key, admission)),
                   asio::detached);
  }
}

asio::awaitable<void> admin_listener::serve(tcp::socket socket, ip_address peer,
                                            connection_slot slot) {
  boost::system::error_code lec;
  const ip_address local = to_ip_address(socket.local_endpoint(lec).address());
  beast::tcp_stream stream(std::move(socket));
  // The parser stops at its limits; the buffer may hold one read beyond them, no more.
  beast::flat_buffer buffer(max_admin_header + max_admin_body + 16 * 1024);
  bool linger = false;
  // The first request is due within header_timeout of the accept, first byte included.
  stream.expires_after(shared_.snapshot()->cfg().admin.header_timeout);
  for (bool first = true;; first = false) {
    const auto snap = shared_.snapshot();
    const auto& a = snap->cfg().admin;
    if (!first) {
      if (buffer.size() == 0) {
        stream.expires_after(a.idle_timeout);
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), nothrow);
        if (ec) break;
        buffer.commit(n);
      }
      stream.expires_after(a.header_timeout);
    }
    http::request_parser<http::string_body> parser;
    parser.header_limit(max_admin_header);
    parser.body_limit(max_admin_body);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, nothrow);
    admin_api::response res;
    if (ec == http::error::header_limit || ec == http::error::body_limit) {
      const bool head = ec == http::error::header_limit;
      res = refusal(head ? http::status::request_header_fields_too_large
                         : http::status::payload_too_large,
                    11,
                    head ? "request head over " + std::to_string(max_admin_header) + " bytes"
                         : "request body over " + std::to_string(max_admin_body) + " bytes");
      exposition_.admin_refused(metrics::admin_refusal::too_large);
      linger = true;
    } else if (ec == beast::error::timeout || ec == http::error::end_of_stream ||
               ec == asio::error::eof || ec == asio::error::connection_reset ||
               ec == http::error::partial_message || ec == asio::error::operation_aborted) {
      break;  // gone, or too slow: nobody to answer
    } else if (ec) {
      res = refusal(http::status::bad_request, 11, "malformed request: " + ec.message());
      exposition_.admin_refused(metrics::admin_refusal::malformed);
      linger = true;
    } else {
      const auto& req = parser.get();
      // No browser sends a request without Host, so one without it (HTTP/1.0 tools) cannot come
      // from a rebinding page and is served.
      const bool has_host = req.find(http::field::host) != req.end();
      if (has_host && !admin_host_served(req[http::field::host], a.hosts, local)) {
        // 421: this listener does not serve the authority the request names. It is not a matter
        // of permission (403): no credential would change the answer.
        res = refusal(http::status::misdirected_request, req.version(),
                      "Host \"" + std::string(req[http::field::host]) +
                          "\" is not served here (admin.hosts)");
        exposition_.admin_refused(metrics::admin_refusal::host);
        linger = !parser.is_done();
      } else {
        res = co_await api_.handle(req, peer);
        if (req.method() == http::verb::head) res.body().clear();
      }
    }
    const bool keep = res.keep_alive();
    stream.expires_after(a.header_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, nothrow);
    if (wec || !keep) break;
  }
  boost::system::error_code ignored;
  if (linger) {
    // Unread bytes at close would reset the connection under the 431: send FIN, then read and
    // drop what is still coming, briefly and boundedly.
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(linger_time);
    std::array<char, 4096> sink;
    for (std::size_t drained = 0; drained < linger_bytes;) {
      auto [rec, got] = co_await stream.async_read_some(asio::buffer(sink), nothrow);
      if (rec) break;
      drained += got;
    }
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  slot.reset();
}

}  // namespace sluice::net
