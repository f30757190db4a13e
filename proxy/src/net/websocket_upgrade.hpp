#pragma once
// A WebSocket upgrade on a route that has a websocket block: judged by the route's limits (by
// the exchange, before this), then by the connection caps; the upstream is asked first and the
// client answered 101 only once it agreed; then the relay runs for the life of the connection.

#include "net/forwarding_head.hpp"
#include "net/io_types.hpp"

namespace sluice::net {

class request_exchange;

/// The upgrade of one admitted request.
class websocket_upgrade {
 public:
  /// For `ex`'s request, once its limits have admitted it.
  explicit websocket_upgrade(request_exchange& ex) : ex_(ex) {}

  /// True when `req` asks for a WebSocket, as opposed to any other protocol (h2c and the like
  /// are not relayed: their Upgrade is stripped like any hop-by-hop field).
  static bool wanted(const request_message& req);

  /// Runs the handshake both ways and then the relay; false: the connection is done.
  task<bool> run();

 private:
  request_exchange& ex_;
};

}  // namespace sluice::net
