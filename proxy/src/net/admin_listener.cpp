#include "net/admin_listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "common/log.hpp"

namespace sluice::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// Admin clients are a scraper, a probe and an operator: a few connections, small requests.
constexpr unsigned max_admin_connections = 64;
constexpr std::uint32_t max_admin_header = 8 * 1024;
constexpr std::uint64_t max_admin_body = 64 * 1024;
constexpr auto admin_timeout = std::chrono::seconds(10);

ip_address to_ip(const asio::ip::address& a) {
  ip_address out;
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    return ip_address::v4(b[0], b[1], b[2], b[3]);
  }
  const auto b = a.to_v6().to_bytes();
  std::copy(b.begin(), b.end(), out.bytes.begin());
  return out;
}
}  // namespace

admin_listener::admin_listener(const tcp::endpoint& address, std::vector<cidr> allow,
                               admin_api& api)
    : acceptor_(ctx_), allow_(std::move(allow)), api_(api) {
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
    auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
    if (!acceptor_.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      asio::steady_timer pause(ctx_, std::chrono::milliseconds(50));
      co_await pause.async_wait(nothrow);
      continue;
    }
    boost::system::error_code pec;
    const auto peer = socket.remote_endpoint(pec);
    bool allowed = false;
    if (!pec) {
      const ip_address ip = to_ip(peer.address());
      for (const auto& c : allow_)
        if (c.contains(ip)) allowed = true;
    }
    if (!allowed || open_ >= max_admin_connections) {
      boost::system::error_code ignored;
      socket.close(ignored);  // nothing at all: not even that an admin endpoint lives here
      continue;
    }
    asio::co_spawn(ctx_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> admin_listener::serve(tcp::socket socket) {
  ++open_;
  struct release {
    unsigned& open;
    ~release() { --open; }
  } guard{open_};
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(max_admin_header);
    parser.body_limit(max_admin_body);
    stream.expires_after(admin_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, nothrow);
    if (ec) break;
    const auto& req = parser.get();
    admin_api::response res = co_await api_.handle(req);
    if (req.method() == http::verb::head) res.body().clear();
    const bool keep = res.keep_alive();
    stream.expires_after(admin_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, nothrow);
    if (wec || !keep) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace sluice::net
