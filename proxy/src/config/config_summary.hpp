#pragma once
// One line per route for `sluice check` and the startup log.

#include <string>
#include <vector>

#include "config/config.hpp"

namespace sluice::config {

/// "stats  exact /api/system/stats  GET  60/minute per ip (sliding_window)": name, match,
/// methods (ANY when unrestricted), "exempt" or each limit (a named limit as "name: ..."), then
/// the websocket block's caps when the route has one.
std::string summarize(const route& r);
/// A websocket block as summarize shows it: "websocket: max_connections_per_ip 5,
/// max_connections 1000, messages_per_ip 10/second (close)"; "websocket: no caps" when all are off.
std::string summarize(const websocket_settings& ws);
/// What each `paths` choice means, one line each, for `sluice check`.
std::vector<std::string> summarize(const path_settings& p);
/// One limit as summarize shows it: "10/second per header x-api-key (token_bucket, burst 20)".
std::string summarize(const limit& l);

}  // namespace sluice::config
