#pragma once
// The words the config uses for its enums and limits, shared by the loader, `sluice check`,
// logs and 429 responses so that each thing is called the same everywhere.

#include <string>
#include <string_view>

#include "config/config.hpp"

namespace sluice::config {

/// "sliding_window" or "token_bucket", as written in the config.
std::string_view to_string(algorithm a);
/// "ip", "route" or "header".
std::string_view to_string(key_kind k);
/// "exact", "prefix" or "glob".
std::string_view to_string(match_kind m);
/// "close" or "drop", as written in a websocket block's on_message_limit.
std::string_view to_string(message_limit_action a);

/// What a limit counts by: "ip", "route", "header x-api-key".
std::string describe_key(const limit& l);
/// The name a limit gets when the config gives none: "60/minute per ip",
/// "max_in_flight 4 per header x-api-key", "60/minute, max_in_flight 4 per ip".
std::string derived_limit_name(const limit& l);

}  // namespace sluice::config
