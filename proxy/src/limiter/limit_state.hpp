#pragma once
// What the key table keeps for one key of one limit. Kept small on purpose: a flood of distinct
// clients costs one of these per key, so every byte here is multiplied by max_keys.

#include <cstdint>
#include <memory>

#include "limiter/clock.hpp"

namespace sluice::limiter {

/// Per-key state shared by both algorithms (a key belongs to exactly one limit, so one algorithm).
struct limit_state {
  /// token_bucket: the GCRA theoretical arrival time. sliding_window with log_cap_ == 0: the
  /// single admission timestamp stored inline (log_size_ is then 0 or 1).
  time_ns value_ = 0;
  /// sliding_window: ring buffer of admission times, oldest at log_head_; null while it fits inline.
  std::unique_ptr<time_ns[]> log_;
  std::uint32_t log_head_ = 0;  ///< index of the oldest timestamp in log_
  std::uint32_t log_size_ = 0;  ///< timestamps held (inline or in log_)
  std::uint32_t log_cap_ = 0;   ///< capacity of log_; 0 = inline slot only
  /// Admitted requests not yet finished (max_in_flight), plus transient pins during acquire.
  /// 31 bits: bounded by open connections, which descriptors bound far lower.
  std::uint32_t in_flight_ : 31 = 0;
  /// The last request this key's rate limit judged was refused. An eviction of such a key while
  /// it still holds state hands a refused client a fresh quota: counted apart.
  std::uint32_t refused_ : 1 = 0;
  /// From this time on (and with nothing in flight) the entry holds no state and may be dropped
  /// before any live key is evicted. Set by the limiter, read by the key table.
  time_ns expires_at_ = 0;
};

}  // namespace sluice::limiter
