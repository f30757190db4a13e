// Accepts connections and starts a session coroutine for each.
#pragma once

#include "router.hpp"
#include "stub_counters.hpp"
#include "stub_net.hpp"

namespace sluice::stub {

/// The listening socket and its accept loop.
class listener {
 public:
  /// Opens, binds and listens on `endpoint` (port 0 picks a free port); throws on failure.
  listener(net::io_context& io, const tcp::endpoint& endpoint, const router& routes,
           stub_counters& counters);
  /// The bound address, with the real port.
  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  /// Accepts until the io_context stops; each connection gets its own strand so that with several
  /// threads a session's timer and socket are never used concurrently.
  net::awaitable<void> run();

 private:
  /// Where sessions get their strands.
  net::io_context& io_;
  /// The listening socket.
  tcp::acceptor acceptor_;
  /// Handed to every session.
  const router& routes_;
  /// Handed to every session.
  stub_counters& counters_;
};

}  // namespace sluice::stub
