#pragma once
// Second-pass reading of `routes` and `default`.

#include <optional>
#include <vector>

#include "config/config.hpp"
#include "config/yaml_node.hpp"

namespace sluice::config {

/// Reads a `match` block (top-level or a route's); keys it leaves out keep `defaults`' values.
match_options read_match_options(const yaml_node& node, const match_options& defaults);

/// Reads the `routes` list in match order: unique names, one match key each, no route that an
/// earlier one hides completely; a route without `match` takes `defaults`. Throws config_error.
std::vector<route> read_routes(const yaml_node& list, const match_options& defaults);

/// Reads the top-level `default` map; without one, the default route has no limits.
route read_default_route(const std::optional<yaml_node>& node);

}  // namespace sluice::config
