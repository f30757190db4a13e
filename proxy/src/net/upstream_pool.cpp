#include "net/upstream_pool.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log.hpp"

namespace sluice::net {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;


bool upstream_pool::still_open(upstream_connection& conn) {
  // A peek that would block means open and quiet. 0 bytes means the upstream closed it; any
  // data means it sent something unasked (an error page before closing): not reusable either.
  char byte;
  const ssize_t n = ::recv(conn.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

std::unique_ptr<upstream_connection> upstream_pool::take_idle(
    const config::upstream_settings& settings) {
  if (!(settings.address == resolved_for_)) {
    close_all();
    endpoints_.clear();
    return nullptr;
  }
  const auto now = std::chrono::steady_clock::now();
  while (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    // Always peek, however briefly it sat: bytes an upstream sent after a complete response (a
    // body with a HEAD answer, a wrong Content-Length) may arrive just after the connection was
    // pooled, and would be read as the next client's response.
    if (now - conn->idle_since < settings.pool_idle_timeout && still_open(*conn)) {
      conn->reused = true;
      return conn;
    }
    boost::system::error_code ignored;
    conn->socket.close(ignored);
  }
  return nullptr;
}

task<std::unique_ptr<upstream_connection>> upstream_pool::connect(
    const config::upstream_settings& settings, config::duration body_timeout,
    connect_failure& failure) {
  failure = connect_failure::none;
  if (!(settings.address == resolved_for_)) {
    close_all();
    endpoints_.clear();
  }
  if (endpoints_.empty()) {
    resolver_t resolver(ex_);
    auto [ec, results] = co_await resolver.async_resolve(
        settings.address.host, std::to_string(settings.address.port),
        asio::as_tuple(use_task));
    if (ec) {
      log_event(log_level::error, "upstream " + settings.address.host + ": cannot resolve: " +
                                      ec.message());
      failure = connect_failure::resolve;
      co_return nullptr;
    }
    for (const auto& r : results) endpoints_.push_back(r.endpoint());
    resolved_for_ = settings.address;
  }

  auto conn = std::make_unique<upstream_connection>(ex_);
  conn->dl.max_sleep(std::min({settings.connect_timeout, settings.response_timeout, body_timeout}));
  conn->dl.expires_after(settings.connect_timeout);
  auto [ec, ep] =
      co_await asio::async_connect(conn->socket, endpoints_, asio::as_tuple(use_task));
  if (ec) {
    failure = conn->dl.expired() ? connect_failure::timeout : connect_failure::refused;
    endpoints_.clear();  // resolve again next time: the name may point elsewhere now
    co_return nullptr;
  }
  boost::system::error_code ignored;
  conn->socket.set_option(tcp::no_delay(true), ignored);
  co_return conn;
}

void upstream_pool::release(std::unique_ptr<upstream_connection> conn,
                            const config::upstream_settings& settings) {
  // Bytes left over after a complete response (a body sent with a HEAD answer, say) would be
  // read as the next client's response: such a connection is never reused.
  if (idle_.size() >= settings.pool_max_idle || !(settings.address == resolved_for_) ||
      conn->buffer.size() != 0)
    return;
  conn->idle_since = std::chrono::steady_clock::now();
  // Lazy, like a request waiting on its upstream: the pending wake-up finds no deadline and
  // stops. close_all() cancels outright, so a stopping worker is not held up by it.
  conn->dl.expires_never();
  idle_.push_back(std::move(conn));
}

void upstream_pool::close_all() {
  for (auto& conn : idle_) {
    boost::system::error_code ignored;
    conn->dl.cancel();
    conn->socket.close(ignored);
  }
  idle_.clear();
}

}  // namespace sluice::net
