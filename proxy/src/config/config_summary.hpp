#pragma once
// One line per route for `sluice check` and the startup log.

#include <string>

#include "config/config.hpp"

namespace sluice::config {

/// "stats  exact /api/system/stats  GET  60/minute per ip (sliding_window)": name, match,
/// methods (ANY when unrestricted), "exempt" or each limit (a named limit as "name: ...").
std::string summarize(const route& r);
/// One limit as summarize shows it: "10/second per header x-api-key (token_bucket, burst 20)".
std::string summarize(const limit& l);

}  // namespace sluice::config
