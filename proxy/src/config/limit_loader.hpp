#pragma once
// Second-pass reading of one limit: `per`, `rate`, `algorithm`, `burst`, `max_in_flight`, `name`.

#include <cstddef>
#include <string_view>

#include "config/config.hpp"
#include "config/yaml_node.hpp"

namespace sluice::config {

/// Reads and checks the limit at `node`, the `index`-th of route `route_name`; sets its derived
/// name and its identity. Throws config_error.
limit read_limit(const yaml_node& node, std::string_view route_name, std::size_t index);

/// A rate such as 60/minute at `node` (a limit's rate, a websocket block's messages_per_ip).
/// Throws config_error.
rate read_rate(const yaml_node& node);

}  // namespace sluice::config
