#include "listener.hpp"

#include "event_log.hpp"
#include "http_session.hpp"

#include <chrono>
#include <exception>

namespace sluice::stub {

listener::listener(net::io_context& io, const tcp::endpoint& endpoint, const router& routes,
                   stub_counters& counters)
    : io_(io), acceptor_(io), routes_(routes), counters_(counters) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

net::awaitable<void> listener::run() {
  for (;;) {
    tcp::socket socket(net::make_strand(io_));
    auto [ec] = co_await acceptor_.async_accept(socket, use_tuple);
    if (ec == net::error::operation_aborted) {
      co_return;
    }
    if (ec) {
      // Usually EMFILE: back off briefly instead of spinning on a failing accept.
      event_log::write("accept failed: " + ec.message());
      net::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    auto executor = socket.get_executor();
    net::co_spawn(executor, http_session::serve(std::move(socket), routes_, counters_),
                  [](std::exception_ptr failure) {
                    if (!failure) {
                      return;
                    }
                    try {
                      std::rethrow_exception(failure);
                    } catch (const std::exception& e) {
                      event_log::write(std::string("session failed: ") + e.what());
                    }
                  });
  }
}

}  // namespace sluice::stub
