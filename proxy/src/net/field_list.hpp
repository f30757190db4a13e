#pragma once
// Header fields copied out of a parsed message, for a WebSocket handshake that outlives the
// request's header arena.

#include <string>
#include <utility>
#include <vector>

namespace sluice::net {

/// Header fields as name/value pairs, in order.
using field_list = std::vector<std::pair<std::string, std::string>>;

}  // namespace sluice::net
