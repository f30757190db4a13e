#include "config/message_limit.hpp"

namespace sluice::config {

std::optional<limit> message_limit(const websocket_settings& ws) {
  if (!ws.messages_per_ip) return std::nullopt;
  // Messages are counted like a token bucket: O(1) per client, whatever the rate.
  limit l;
  l.name = "messages_per_ip";
  l.per = key_kind::ip;
  l.rate = ws.messages_per_ip;
  l.algo = algorithm::token_bucket;
  l.burst = l.rate->count;
  l.id = ws.id;  // the block's: its clients' counts survive a reload that changes the rate
  return l;
}

}  // namespace sluice::config
