#pragma once
// A limit's (or a websocket block's) identity across reloads: the key table keeps a key's state
// (its window or bucket) when a reloaded config has the same identity, and starts afresh
// otherwise.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.hpp"

namespace sluice::config {

/// 64-bit FNV-1a of the route name, the limit's position on the route and its definition (per,
/// header, rate, algorithm, burst, max_in_flight). The limit's name is left out: renaming a limit
/// keeps its state. Stable across builds and platforms (fixed byte order).
std::uint64_t limit_identity(std::string_view route_name, std::size_t index, const limit& l);

/// 64-bit FNV-1a of the route name and every setting of its websocket block, in a space apart
/// from limit identities. An unchanged block on a same-named route keeps its identity.
std::uint64_t websocket_identity(std::string_view route_name, const websocket_settings& ws);

}  // namespace sluice::config
