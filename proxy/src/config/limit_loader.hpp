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

}  // namespace sluice::config
