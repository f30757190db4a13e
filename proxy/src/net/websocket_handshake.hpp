#pragma once
// The two opening handshakes of a relayed WebSocket (RFC 6455 4), written and read by the proxy
// itself: the upgrade request to the upstream and its answer, then the 101 to the client. Only
// the fields asked for go out: no Server or User-Agent of the proxy's own.

#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "net/field_list.hpp"
#include "net/io_types.hpp"
#include "websocket/deflate_negotiation.hpp"

namespace sluice::net {

/// What the upstream answered to the upgrade.
struct upstream_upgrade {
  bool upgraded = false;   ///< a valid 101: the relay may start
  bool timed_out = false;  ///< no whole answer within the deadline
  bool failed = false;     ///< the connection failed, or the answer was not HTTP or not a valid 101
  std::string error;       ///< why it failed, when it did
  unsigned status = 0;     ///< the upstream's status when it refused (not 101)
  std::string body;        ///< its body then
  std::string content_type;  ///< its Content-Type then (empty: none)
  field_list fields;       ///< its end-to-end fields (101 or refusal)
  std::optional<websocket::deflate_params> deflate;  ///< permessage-deflate, when agreed
  std::string early;       ///< bytes that came after the 101: the upstream's first frames
};

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
