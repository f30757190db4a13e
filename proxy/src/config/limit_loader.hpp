#pragma once
// Second-pass reading of one limit: `per`, `rate`, `algorithm`, `burst`, `max_in_flight`, `name`.

#include "config/config.hpp"
#include "config/yaml_node.hpp"

namespace sluice::config {

/// Reads and checks the limit at `node` and sets its derived name; its identity depends on the
/// route's other limits, so the route sets it (assign_limit_identities). Throws config_error.
limit read_limit(const yaml_node& node);

/// A rate such as 60/minute at `node` (a limit's rate, a websocket block's messages_per_ip).
/// Throws config_error.
rate read_rate(const yaml_node& node);

}  // namespace sluice::config
