#pragma once
// The two opening handshakes of a relayed WebSocket (RFC 6455 4), written and read by the proxy
// itself: the upgrade request to the upstream and its answer, then the 101 to the client. Only
// the fields asked for go out: no Server or User-Agent of the proxy's own.

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "net/field_list.hpp"
#include "net/io_types.hpp"
#include "net/upstream_upgrade.hpp"
#include "websocket/deflate_negotiation.hpp"

namespace sluice::net {

/// The upgrade request to send.
struct upstream_request {
  std::string_view host;    ///< Host field
  std::string_view target;  ///< request target
  const field_list* fields = nullptr;  ///< the client's end-to-end fields and forwarding ones
  const config::websocket_compression* compression = nullptr;  ///< what to offer
  config::duration timeout{};          ///< for the request and the whole answer
  std::size_t max_header_bytes = 0;    ///< cap on the answer's head
};

/// Sends the upgrade over `socket` and reads the answer (a refusal's body too, up to a cap).
task<upstream_upgrade> upgrade_upstream(socket_t& socket, const upstream_request& req);

/// Answers the client's handshake (its Sec-WebSocket-Key `key`) with 101, with
/// `extensions` (empty: none) and `fields`, within `timeout`. False when the write failed.
task<bool> switch_protocols(socket_t& socket, std::string_view key, std::string_view extensions,
                            const field_list& fields, config::duration timeout);

}  // namespace sluice::net
