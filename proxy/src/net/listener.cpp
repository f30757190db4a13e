#include "net/listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log.hpp"
#include "net/drained_buffer.hpp"
#include "net/worker.hpp"

namespace sluice::net {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr auto accept_error_pause = std::chrono::milliseconds(50);
}  // namespace

listener::listener(const tcp::endpoint& address, std::vector<worker*> workers)
    : workers_(std::move(workers)),
      acceptor_(workers_.front()->context()),
      protocol_(address.protocol()) {
  acceptor_.open(address.protocol());
  // SO_REUSEADDR only lets a restart bind past old connections in TIME_WAIT; unlike
  // SO_REUSEPORT it never lets two live listeners share the port.
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  // Accepted sockets inherit it; without it, reads simply stay speculative (drained_buffer.hpp).
  boost::system::error_code ignored;
  acceptor_.set_option(receive_queue_hint(true), ignored);
  acceptor_.bind(address);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

void listener::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void listener::stop() {
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
}

asio::awaitable<void> listener::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // Out of descriptors and the like: log, breathe, keep serving the connections we have.
      log_event(log_level::warn, "accept failed: " + ec.message());
      asio::steady_timer pause(acceptor_.get_executor(), accept_error_pause);
      co_await pause.async_wait(nothrow);
      continue;
    }
    // The descriptor changes hands: the worker registers it with its own reactor, on its own
    // thread, so no socket is ever touched by two threads.
    boost::system::error_code release_ec;
    const auto fd = socket.release(release_ec);
    if (release_ec) continue;
    workers_[next_++ % workers_.size()]->adopt(protocol_, fd);
  }
}

}  // namespace sluice::net
