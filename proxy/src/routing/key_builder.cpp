#include "routing/key_builder.hpp"

namespace sluice::routing {

ip_address key_address(const ip_address& client, unsigned ipv6_prefix) {
  return client.is_v4() ? client : client.masked(ipv6_prefix);
}

}  // namespace sluice::routing
