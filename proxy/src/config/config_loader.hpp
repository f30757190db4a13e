#pragma once
// Turns YAML text into a validated config, or throws config_error naming file:line:col.

#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace sluice::config {

/// Reads and validates the file at `path`; throws config_error.
std::shared_ptr<const config> load_file(const std::string& path);
/// Validates YAML text; `source_name` stands for the file in messages. Throws config_error.
std::shared_ptr<const config> load_string(std::string_view yaml, const std::string& source_name);

}  // namespace sluice::config
