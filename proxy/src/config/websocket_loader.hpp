#pragma once
// Second-pass reading of a route's `websocket` block.

#include <string_view>

#include "config/config.hpp"
#include "config/yaml_node.hpp"

namespace sluice::config {

/// Reads the `websocket` block at `node` of route `route_name`, defaults for every key left
/// out, and sets its identity. Throws config_error.
websocket_settings read_websocket(const yaml_node& node, std::string_view route_name);

}  // namespace sluice::config
