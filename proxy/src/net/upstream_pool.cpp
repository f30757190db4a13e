#include "net/upstream_pool.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include "common/log.hpp"
#include "net/drained_buffer.hpp"

namespace sluice::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;


namespace {
constexpr std::size_t standing_read_size = 16 * 1024;

// Asked only after a connect failed: Asio's range connect reports a socket it could not open as
// operation_aborted, so the one way to tell EMFILE from the upstream's refusal is to try.
bool out_of_descriptors() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    ::close(fd);
    return false;
  }
  return errno == EMFILE || errno == ENFILE;
}
}  // namespace

upstream_connection::upstream_connection(const executor_t& ex)
    : socket(ex), dl(socket), standing(std::make_shared<standing_read>()) {
  standing->conn = this;
}

upstream_connection::~upstream_connection() {
  // The socket closes with us; its read's late completion must find nothing to touch.
  standing->conn = nullptr;
  ++standing->generation;
}

boost::system::error_code upstream_connection::take_standing_read() {
  auto& st = *standing;
  if (!st.completed) return {};
  st.completed = false;
  // Made before the connection was taken: whatever it holds (a close, stray bytes) is not the
  // answer to this request. The connection is finished; the caller treats it as closed.
  if (st.stale) return beast::http::error::end_of_stream;
  if (st.ec) {
    if (dl.expired()) return beast::error::timeout;
    if (st.ec == asio::error::eof) return beast::http::error::end_of_stream;
    return st.ec;
  }
  buffer.commit(st.bytes);
  return {};
}

void upstream_connection::drop_standing_read() {
  auto& st = *standing;
  st.completed = false;
  if (!st.outstanding) return;
  st.outstanding = false;
  ++st.generation;
  boost::system::error_code ignored;
  socket.cancel(ignored);
}

void upstream_pool::start_standing_read(upstream_connection& conn) {
  auto& st = *conn.standing;
  st.outstanding = true;
  st.completed = false;
  st.in_use = false;
  st.settled = false;
  st.taken_fence = false;
  st.stale = false;
  const unsigned generation = ++st.generation;
  conn.socket.async_read_some(
      drained_buffer(conn.buffer.prepare(standing_read_size)),
      [sp = conn.standing, generation](boost::system::error_code ec, std::size_t n) {
        auto& st = *sp;
        if (generation != st.generation) return;  // dropped, or the connection is gone
        st.outstanding = false;
        st.completed = true;
        st.ec = ec;
        st.bytes = n;
        if (st.in_use && !st.taken_fence) st.stale = true;
        if (st.waiter) {
          auto waiter = std::move(*st.waiter);
          st.waiter.reset();
          std::move(waiter)(ec, n);
          return;
        }
        // Nobody has taken the connection: the upstream closed it, or sent bytes nobody asked
        // for (never to be read as the next client's response). Either way it is finished.
        if (!st.in_use && st.conn != nullptr) {
          boost::system::error_code ignored;
          st.conn->socket.close(ignored);
        }
      });
  // Runs after a completion the read's start may have queued (see the header).
  asio::post(conn.socket.get_executor(), [sp = conn.standing, generation] {
    if (generation == sp->generation) sp->settled = true;
  });
}

std::unique_ptr<upstream_connection> upstream_pool::take_idle(
    const config::upstream_settings& settings) {
  if (!(settings.address == resolved_for_)) {
    close_all();
    endpoints_.clear();
    return nullptr;
  }
  const auto now = std::chrono::steady_clock::now();
  // Newest first. A connection released so recently that its release fence has not run yet is
  // passed over, not dropped (a pipelined request right after its predecessor's answer, say).
  for (std::size_t i = idle_.size(); i-- > 0;) {
    auto& st = *idle_[i]->standing;
    if (!st.settled && st.outstanding && idle_[i]->socket.is_open()) continue;
    auto conn = std::move(idle_[i]);
    idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
    // Still waiting means open and quiet: anything the upstream did while the connection sat
    // here (close it, send stray bytes) has completed the read and closed the socket.
    if (st.outstanding && conn->socket.is_open() &&
        now - conn->idle_since < settings.pool_idle_timeout) {
      st.in_use = true;
      conn->reused = true;
      // Completions queued before this one runs were made before the connection was taken.
      asio::post(conn->socket.get_executor(), [sp = conn->standing, g = st.generation] {
        if (g == sp->generation) sp->taken_fence = true;
      });
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
    failure = conn->dl.expired()   ? connect_failure::timeout
              : out_of_descriptors() ? connect_failure::descriptors
                                     : connect_failure::refused;
    endpoints_.clear();  // resolve again next time: the name may point elsewhere now
    co_return nullptr;
  }
  boost::system::error_code ignored;
  conn->socket.set_option(tcp::no_delay(true), ignored);
  conn->socket.set_option(receive_queue_hint(true), ignored);
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
  start_standing_read(*conn);
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
