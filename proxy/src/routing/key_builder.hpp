#pragma once
// Builds the limit keys of a request: one per limit of its route.

#include <string_view>

#include <boost/container/small_vector.hpp>

#include "common/ip_address.hpp"
#include "config/config.hpp"
#include "limiter/limit_key.hpp"
#include "limiter/value_digest.hpp"

namespace sluice::routing {

/// Keys for up to four limits live inline; more spill to the heap.
using key_list = boost::container::small_vector<limiter::limit_key, 4>;

/// The address a per-ip limit counts: IPv4 as is, IPv6 reduced to its /`ipv6_prefix` network
/// (one host usually holds a whole /64, so counting single IPv6 addresses counts nothing).
ip_address key_address(const ip_address& client, unsigned ipv6_prefix);

/// Fills `out` with route.limits[i]'s key at index i. `header(name)` returns a header's value,
/// empty when absent; absent or empty header keys fall back to the client address.
template <class HeaderLookup>
void build_keys(const config::route& route, const ip_address& key_addr, HeaderLookup&& header,
                key_list& out) {
  out.clear();
  for (const auto& l : route.limits) {
    limiter::limit_key k;
    k.limit_id = l.id;
    switch (l.per) {
      case config::key_kind::ip: k.value = key_addr.bytes; break;
      case config::key_kind::route: break;
      case config::key_kind::header: {
        const std::string_view v = header(std::string_view(l.header));
        k.value = v.empty() ? key_addr.bytes : limiter::value_digest(v);
        break;
      }
    }
    out.push_back(k);
  }
}

}  // namespace sluice::routing
