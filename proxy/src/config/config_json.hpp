#pragma once
// The running config as JSON, for the admin API's /config: every setting, written the way the
// YAML file writes it (durations "30s", rates "60/minute", sizes in bytes), so what an operator
// reads there can be pasted back into the file.

#include <nlohmann/json_fwd.hpp>

#include "config/config.hpp"

namespace sluice::config {

/// The whole config. Keys are the YAML keys; routes in match order, then "default". Durations are
/// strings in the config syntax, rates "N/unit" strings, sizes integers of bytes, CIDRs and
/// addresses strings, limit and websocket ids 16-digit hex strings (a JSON number loses 64-bit
/// precision in most clients). admin.token_env is the variable's name only; the token is never
/// read here.
nlohmann::json to_json(const config& cfg);

}  // namespace sluice::config
