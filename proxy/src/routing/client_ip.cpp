#include "routing/client_ip.hpp"

#include <boost/container/small_vector.hpp>

namespace sluice::routing {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits every header instance on ',' into one list, left (oldest hop) to right (newest).
template <class Out>
void split_elements(std::span<const std::string_view> values, Out& out) {
  for (std::string_view v : values) {
    while (!v.empty()) {
      const auto comma = v.find(',');
      out.push_back(trim(v.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
}

}  // namespace

bool is_trusted_proxy(const ip_address& addr, const std::vector<cidr>& trusted_proxies) {
  for (const auto& c : trusted_proxies)
    if (c.contains(addr)) return true;
  return false;
}

std::optional<ip_address> parse_forwarded_for_element(std::string_view e) {
  e = trim(e);
  if (e.empty()) return std::nullopt;
  if (e.front() == '[') {
    const auto close = e.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return ip_address::parse(e.substr(1, close - 1));
  }
  if (auto a = ip_address::parse(e)) return a;
  // IPv4 with a port; IPv6 without brackets never carries one (its colons would be ambiguous).
  const auto colon = e.rfind(':');
  if (colon != std::string_view::npos && e.find(':') == colon) {
    if (auto a = ip_address::parse(e.substr(0, colon)); a && a->is_v4()) return a;
  }
  return std::nullopt;
}

std::optional<ip_address> parse_forwarded_element(std::string_view e) {
  // An element is ';'-separated pairs; only for= matters here. Names are case-insensitive.
  while (!e.empty()) {
    const auto semi = e.find(';');
    std::string_view pair = trim(e.substr(0, semi));
    e = semi == std::string_view::npos ? std::string_view{} : e.substr(semi + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = trim(pair.substr(0, eq));
    if (name.size() != 3 || (name[0] | 0x20) != 'f' || (name[1] | 0x20) != 'o' ||
        (name[2] | 0x20) != 'r')
      continue;
    std::string_view value = trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return parse_forwarded_for_element(value);  // "unknown" and "_hidden" fail here, on purpose
  }
  return std::nullopt;
}

ip_address client_ip(const ip_address& peer, std::span<const std::string_view> x_forwarded_for,
                     std::span<const std::string_view> forwarded,
                     const std::vector<cidr>& trusted_proxies) {
  if (trusted_proxies.empty() || !is_trusted_proxy(peer, trusted_proxies)) return peer;
  const bool use_xff = !x_forwarded_for.empty();
  boost::container::small_vector<std::string_view, 8> hops;
  split_elements(use_xff ? x_forwarded_for : forwarded, hops);

  ip_address client = peer;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    const auto addr = use_xff ? parse_forwarded_for_element(*it) : parse_forwarded_element(*it);
    // A hop a trusted proxy could not name: stop at the last address we can vouch for.
    if (!addr) return client;
    client = *addr;
    if (!is_trusted_proxy(client, trusted_proxies)) return client;
  }
  return client;  // every hop trusted: the left-most is as far as the chain goes
}

}  // namespace sluice::routing
