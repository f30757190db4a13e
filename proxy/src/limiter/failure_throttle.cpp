#include "limiter/failure_throttle.hpp"

#include <cstring>

namespace sluice::limiter {

std::size_t failure_throttle::key_hash::operator()(const ip_address& a) const {
  std::uint64_t hi = 0, lo = 0;
  std::memcpy(&hi, a.bytes.data(), 8);
  std::memcpy(&lo, a.bytes.data() + 8, 8);
  return std::hash<std::uint64_t>{}(hi * 0x9e3779b97f4a7c15ull ^ lo);
}

failure_throttle::failure_throttle(time_ns window, std::size_t max_keys)
    : window_(window), max_keys_(max_keys) {}

// The key's entry, or the overflow entry for a key not tracked; null when neither has a
// failure in a window still running.
failure_throttle::entry* failure_throttle::find(const ip_address& key, time_ns now) {
  entry* e = nullptr;
  if (const auto it = entries_.find(key); it != entries_.end()) e = &it->second;
  else if (overflow_.failures > 0) e = &overflow_;
  if (e != nullptr && now - e->window_start >= window_) {
    e->failures = 0;  // its window is over
    return nullptr;
  }
  return e;
}

time_ns failure_throttle::throttled_for(const ip_address& key, std::uint32_t max_failures,
                                        time_ns now) {
  const entry* e = find(key, now);
  if (e == nullptr || e->failures < max_failures) return 0;
  return e->window_start + window_ - now;
}

void failure_throttle::drop_expired(time_ns now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now - it->second.window_start >= window_) it = entries_.erase(it);
    else ++it;
  }
}

void failure_throttle::failed(const ip_address& key, time_ns now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    // A full table is swept first (rare: a sweep frees every key whose window is over); a key
    // that still finds no room counts in the shared overflow entry.
    if (entries_.size() >= max_keys_) drop_expired(now);
    if (entries_.size() < max_keys_) it = entries_.emplace(key, entry{now, 0}).first;
  }
  entry& e = it != entries_.end() ? it->second : overflow_;
  if (e.failures == 0 || now - e.window_start >= window_) {
    e.window_start = now;
    e.failures = 0;
  }
  ++e.failures;
}

}  // namespace sluice::limiter
