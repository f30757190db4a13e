#pragma once
// The limiter: one decision per request over all the limits of its route, made atomically so
// several limits never half-consume, and exact across worker threads.

#include <atomic>
#include <cstdint>
#include <span>

#include <boost/container/small_vector.hpp>

#include "config/config.hpp"
#include "limiter/clock.hpp"
#include "limiter/key_table.hpp"
#include "limiter/limit_key.hpp"
#include "limiter/verdict.hpp"

namespace sluice::limiter {

/// Why a request was refused.
enum class refusal {
  none,          ///< admitted
  rate,          ///< a rate limit is used up: 429
  in_flight,     ///< a max_in_flight cap is reached: 429
  table_full,    ///< the key table is full of in-flight keys: 503 (fail closed, counted)
};

/// The limiter's answer for one request.
struct decision {
  refusal refused = refusal::none;  ///< none means admitted; else why limit_index refused
  /// Refused: the refusing limit with the longest wait. Admitted: the limit with the least left.
  /// -1 only when the route has no limits.
  int limit_index = -1;
  verdict limiting;                 ///< verdicts[limit_index]
  /// Admitted, but a limit in shadow mode would have refused (shadow_index: the first such).
  bool shadow_refused = false;
  int shadow_index = -1;
  /// One verdict per route limit, in route order (for RateLimit headers).
  boost::container::small_vector<verdict, 4> verdicts;

  /// True when the request may go on.
  bool allowed() const { return refused == refusal::none; }
};

/// Shared by all workers; thread-safe. Pure: no clock of its own, no I/O.
class limiter {
 public:
  /// A table bounded at `max_keys` entries.
  explicit limiter(std::uint64_t max_keys);

  /// Checks every limit of `route` for its key (keys[i] belongs to route.limits[i]) and, only if
  /// all agree, consumes one admission from each and takes an in-flight slot where capped.
  [[nodiscard]] decision acquire(const config::route& route, std::span<const limit_key> keys,
                                 time_ns now);
  /// Gives back the in-flight slots acquire() took; call exactly once per admitted request.
  void release(const config::route& route, std::span<const limit_key> keys);
  /// What acquire() would answer now, consuming nothing (the admin explain endpoint).
  [[nodiscard]] decision peek(const config::route& route, std::span<const limit_key> keys,
                              time_ns now);

  /// At a reload: reinterprets the keys of every limit `new_cfg` keeps (same id) with a changed
  /// rate, algorithm or burst, and forgets those of limits it drops; returns the keys changed.
  /// Call just before the new config is swapped in (config_reloader says why that order).
  std::uint64_t rebase(const config::config& old_cfg, const config::config& new_cfg, time_ns now);

  /// The key table's counters.
  key_table_stats table_stats() const { return table_.stats(); }

 private:
  key_table table_;
  /// Until this time, a log a rebase left on a key that became a token bucket is kept for
  /// requests still judging it as a sliding window; an admission after it frees the log.
  std::atomic<time_ns> keep_logs_until_{0};
};

}  // namespace sluice::limiter
