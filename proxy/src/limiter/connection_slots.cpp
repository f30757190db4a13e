#include "limiter/connection_slots.hpp"

#include <cstring>

namespace sluice::limiter {

std::size_t connection_slots::key_hash::operator()(const ip_address& a) const {
  std::uint64_t hi = 0, lo = 0;
  std::memcpy(&hi, a.bytes.data(), 8);
  std::memcpy(&lo, a.bytes.data() + 8, 8);
  return std::hash<std::uint64_t>{}(hi * 0x9e3779b97f4a7c15ull ^ lo);
}

connection_slots::shard& connection_slots::shard_of(const ip_address& key) {
  return shards_[key_hash{}(key) % shard_count];
}

const connection_slots::shard& connection_slots::shard_of(const ip_address& key) const {
  return shards_[key_hash{}(key) % shard_count];
}

bool connection_slots::take_total(std::uint32_t limit) {
  auto n = open_.load(std::memory_order_relaxed);
  do {
    if (n >= limit) return false;
  } while (!open_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

bool connection_slots::take_reserve(std::uint32_t share) {
  auto n = reserve_open_.load(std::memory_order_relaxed);
  do {
    if (n >= share) return false;
  } while (!reserve_open_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

connection_admission connection_slots::acquire(const ip_address& key, bool per_key_exempt,
                                               bool allowlisted, const connection_caps& caps) {
  connection_admission out;
  out.counted_per_key = !per_key_exempt;
  // The key's count is checked and raised under one lock, so two connections of one key
  // accepted at once cannot both take its last slot.
  std::unique_lock<std::mutex> lock;
  std::uint32_t* count = nullptr;
  shard* s = nullptr;
  if (out.counted_per_key) {
    s = &shard_of(key);
    lock = std::unique_lock(s->mu);
    if (const auto it = s->open.find(key); it != s->open.end()) count = &it->second;
    if (caps.per_key > 0 && count != nullptr && *count >= caps.per_key) {
      out.refused = connection_refusal::per_key;
      return out;
    }
  }

  const std::uint32_t reserved = caps.reserved < caps.max_total ? caps.reserved : 0;
  if (take_total(caps.max_total - reserved)) {
    out.kind = connection_class::normal;
  } else if (allowlisted && take_total(caps.max_total)) {
    out.kind = connection_class::normal;  // allowlisted: served in the reserve like anywhere
  } else if (!allowlisted && take_reserve((reserved + 1) / 2)) {
    if (!take_total(caps.max_total)) {
      reserve_open_.fetch_sub(1, std::memory_order_relaxed);
      out.refused = connection_refusal::global;
      return out;
    }
    out.kind = connection_class::reserve;
  } else {
    out.refused = connection_refusal::global;
    return out;
  }

  if (out.counted_per_key) {
    if (count != nullptr) ++*count;
    else s->open.emplace(key, 1);
  }
  return out;
}

void connection_slots::release(const ip_address& key, const connection_admission& admission) {
  if (!admission.admitted()) return;
  if (admission.counted_per_key) {
    shard& s = shard_of(key);
    std::lock_guard lock(s.mu);
    // Keys without a connection are erased: the map holds only keys with connections open.
    if (const auto it = s.open.find(key); it != s.open.end() && --it->second == 0) s.open.erase(it);
  }
  if (admission.kind == connection_class::reserve)
    reserve_open_.fetch_sub(1, std::memory_order_relaxed);
  open_.fetch_sub(1, std::memory_order_relaxed);
}

std::uint32_t connection_slots::open_for(const ip_address& key) const {
  const shard& s = shard_of(key);
  std::lock_guard lock(s.mu);
  const auto it = s.open.find(key);
  return it == s.open.end() ? 0 : it->second;
}

std::size_t connection_slots::keys() const {
  std::size_t n = 0;
  for (const shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.open.size();
  }
  return n;
}

}  // namespace sluice::limiter
