#pragma once
// The first pass of loading: every map in the document is checked against the keys it may hold,
// before any value is converted, so a typo fails loudly instead of being silently ignored.

#include "config/yaml_node.hpp"

namespace sluice::config {

/// Fails (config_error) at the first unknown or duplicate key anywhere in the document. Values
/// of the wrong kind are skipped here; the second pass reports them.
void check_keys(const yaml_node& root);

}  // namespace sluice::config
