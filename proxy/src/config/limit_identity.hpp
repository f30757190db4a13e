#pragma once
// A limit's (or a websocket block's) identity across reloads: the key table keeps a key's state
// (its window or bucket) while a reloaded config has the same identity, and the limiter
// reinterprets that state when the definition under the identity changed (limiter/rebase).
// Only a change of what a limit counts by starts its keys afresh.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace sluice::config {

/// 64-bit FNV-1a of the route name, what the limit counts by (per, lower-case header) and its
/// ordinal among the route's limits that count by the same. Rate, algorithm, burst,
/// max_in_flight, name and mode are left out: changing them keeps the keys' state. Stable
/// across builds and platforms (fixed byte order).
std::uint64_t limit_identity(std::string_view route_name, key_kind per, std::string_view header,
                             std::size_t ordinal);

/// Sets `id` on each of a route's limits, in list order (the ordinal is counted per per/header).
void assign_limit_identities(std::string_view route_name, std::vector<limit>& limits);

/// 64-bit FNV-1a of the route name, in a space apart from limit identities: a route's
/// messages_per_ip keeps its counts across a reload whatever its settings become.
std::uint64_t websocket_identity(std::string_view route_name);

}  // namespace sluice::config
