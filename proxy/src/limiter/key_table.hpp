#pragma once
// The bounded table of per-key limiter state, shared by every worker thread.
//
// Sharded by key hash, one mutex per shard, so workers rarely meet. Within a shard, entries live
// in fixed chunks (stable addresses, no reallocation spikes) and a flat hash set maps keys to
// entry indices; an intrusive LRU list orders them. At the bound, entries that no longer hold
// state are dropped first (a sweep); only when every entry is live is the least recently used
// one evicted, and that is counted: it means max_keys is too small for the traffic. Exactly:
// a full sweep runs at most once per quarter-capacity of inserts (so a flood of live keys costs
// O(1) amortised per insert); between sweeps the 64 least recently used entries are searched for
// a dead one before a live one is evicted.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/unordered/unordered_flat_set.hpp>

#include "limiter/clock.hpp"
#include "limiter/limit_key.hpp"
#include "limiter/limit_state.hpp"

namespace sluice::limiter {

/// Counters about the table, read without locks (values may be a moment old).
struct key_table_stats {
  std::uint64_t size = 0;            ///< keys held now
  std::uint64_t capacity = 0;        ///< the bound
  std::uint64_t evictions = 0;       ///< live keys evicted at the bound (their state was lost)
  std::uint64_t evictions_limited = 0;  ///< of those, keys whose last rate check was a refusal
  std::uint64_t expired_dropped = 0; ///< keys dropped because they no longer held state
  std::uint64_t insert_failures = 0; ///< inserts refused: every key in the shard was in flight
};

/// Sharded, bounded map from limit_key to limit_state with LRU eviction.
class key_table {
 public:
  /// Bound of `max_keys` entries in all; `shards` is rounded down to a power of two, at least 1.
  key_table(std::uint64_t max_keys, unsigned shards);
  ~key_table();
  key_table(const key_table&) = delete;
  key_table& operator=(const key_table&) = delete;

  /// Index of the shard that holds `key`.
  unsigned shard_of(const limit_key& key) const;
  /// Number of shards.
  unsigned shard_count() const { return static_cast<unsigned>(shards_.size()); }
  /// The mutex guarding shard `i`; lock it around find/find_or_insert/release for its keys.
  std::mutex& shard_mutex(unsigned i);

  /// The state for `key`, or nullptr; does not touch the LRU order. Shard must be locked.
  limit_state* find(const limit_key& key);
  /// The state for `key`, created empty if absent (may drop or evict another entry), moved to
  /// most recently used. nullptr only when the shard is full of in-flight keys. Shard locked.
  limit_state* find_or_insert(const limit_key& key, time_ns now);

  /// Counters; sums over shards without locking.
  key_table_stats stats() const;

  /// Calls `fn` on every entry, locking each shard in turn (the limiter's rebase at a reload).
  void for_each(const std::function<void(const limit_key&, limit_state&)>& fn);

 private:
  struct shard;
  std::vector<std::unique_ptr<shard>> shards_;
  unsigned shard_mask_;
  std::uint64_t capacity_;
};

}  // namespace sluice::limiter
