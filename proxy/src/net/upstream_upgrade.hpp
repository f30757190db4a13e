#pragma once
// The upstream's answer to a WebSocket upgrade, as websocket_handshake read it.

#include <optional>
#include <string>

#include "net/field_list.hpp"
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

}  // namespace sluice::net
