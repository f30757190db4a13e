#include "limiter/websocket_slots.hpp"

#include <cstring>

namespace sluice::limiter {

std::size_t websocket_slots::key_hash::operator()(const ip_address& a) const {
  std::uint64_t hi = 0, lo = 0;
  std::memcpy(&hi, a.bytes.data(), 8);
  std::memcpy(&lo, a.bytes.data() + 8, 8);
  return std::hash<std::uint64_t>{}(hi * 0x9e3779b97f4a7c15ull ^ lo);
}

websocket_refusal websocket_slots::acquire(std::string_view route, const ip_address& key,
                                           const websocket_caps& caps) {
  std::lock_guard lock(mu_);
  if (caps.global > 0 && open_ >= caps.global) return websocket_refusal::global;
  auto it = routes_.find(std::string(route));
  if (it == routes_.end()) it = routes_.emplace(std::string(route), route_entry{}).first;
  route_entry& r = it->second;
  if (caps.per_route > 0 && r.open >= caps.per_route) return websocket_refusal::per_route;
  auto k = r.per_key.find(key);
  if (caps.per_ip > 0 && k != r.per_key.end() && k->second >= caps.per_ip)
    return websocket_refusal::per_ip;
  if (k == r.per_key.end()) k = r.per_key.emplace(key, 0).first;
  ++k->second;
  ++r.open;
  ++open_;
  return websocket_refusal::none;
}

void websocket_slots::release(std::string_view route, const ip_address& key) {
  std::lock_guard lock(mu_);
  const auto it = routes_.find(std::string(route));
  if (it == routes_.end()) return;
  route_entry& r = it->second;
  const auto k = r.per_key.find(key);
  if (k == r.per_key.end()) return;
  // Keys without a slot are erased, so the map holds only clients with open WebSockets.
  if (--k->second == 0) r.per_key.erase(k);
  --r.open;
  --open_;
}

std::uint64_t websocket_slots::open() const {
  std::lock_guard lock(mu_);
  return open_;
}

std::vector<std::pair<std::string, std::uint64_t>> websocket_slots::open_by_route() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const auto& [name, r] : routes_) out.emplace_back(name, r.open);
  return out;
}

std::uint32_t websocket_slots::open_for(std::string_view route, const ip_address& key) const {
  std::lock_guard lock(mu_);
  const auto it = routes_.find(std::string(route));
  if (it == routes_.end()) return 0;
  const auto k = it->second.per_key.find(key);
  return k == it->second.per_key.end() ? 0 : k->second;
}

}  // namespace sluice::limiter
