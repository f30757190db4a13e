#pragma once
// The limit behind a websocket block's messages_per_ip, written once for the proxy (which judges
// messages with it) and the limiter's rebase (which must know what a reload changed).

#include <optional>

#include "config/config.hpp"

namespace sluice::config {

/// A token bucket per client key at messages_per_ip, burst = the rate's count, id = the block's;
/// nullopt when the block has no messages_per_ip.
std::optional<limit> message_limit(const websocket_settings& ws);

}  // namespace sluice::config
