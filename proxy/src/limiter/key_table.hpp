#pragma once
// The bounded table of per-key limiter state, shared by every worker thread.
//
// Sharded by key hash, one mutex per shard, so workers rarely meet. Within a shard, entries live
// in fixed chunks (stable addresses, no reallocation spikes), an open-addressing index of tagged
// entry numbers maps keys to entries, and each limit's keys sit on three intrusive lists:
// probation (seen once), protected (seen twice or more) and limited (found refused by an
// eviction's scan).
//
// At the bound, what goes is chosen so that a flood of new keys (each seen once) cannot reset a
// key with more at stake, and a flood on one limit cannot push out the keys of another:
//   1. a key that holds no state (dead): a sweep of the shard, at most once per quarter-capacity
//      of inserts, and between sweeps the ends of the lists searched below;
//   2. a key of the paying limit (the inserting limit if it holds at least its fair share of the
//      shard, capacity / limits present; else the limit holding the most keys): its least
//      recently used once-seen key, else its least recently used protected key not refused;
//   3. a once-seen key of any other limit, before any refused key goes;
//   4. the paying limit's least recently used refused key (counted in evictions_limited);
//   5. any other key not in flight. In-flight keys are never evicted; a shard whose every key is
//      in flight refuses the insert.
// Every live eviction is counted: max_keys is too small for the traffic, or a flood is absorbed.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

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

/// Sharded, bounded map from limit_key to limit_state; scan-resistant, per-limit fair eviction.
class key_table {
 public:
  /// Bound of `max_keys` entries in all (at most 2^24 a shard); `shards` is rounded down to a
  /// power of two, at least 1.
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

  /// The state for `key`, or nullptr; not a use (moves nothing between lists). Shard locked.
  limit_state* find(const limit_key& key);
  /// The state for `key`, created empty if absent (may drop or evict another entry); a use: a
  /// key found is protected from then on. nullptr only when nothing in the shard could make room
  /// (every key in flight) or the index could not place the key (only keys made to collide).
  /// Shard must be locked.
  limit_state* find_or_insert(const limit_key& key, time_ns now);

  /// Calls `fn` on every entry, locking each shard in turn; the caller holds no shard lock, and
  /// `fn` must not call back into the table. Entries are neither used nor moved.
  void for_each(const std::function<void(const limit_key&, limit_state&)>& fn);

  /// Counters; sums over shards without locking.
  key_table_stats stats() const;

 private:
  struct shard;
  /// The shard of a key whose hash_of() is `hash`.
  unsigned shard_index(std::uint64_t hash) const;
  std::vector<std::unique_ptr<shard>> shards_;
  unsigned shard_mask_;
  std::uint64_t capacity_;
};

}  // namespace sluice::limiter
