#pragma once
// Token bucket as GCRA (generic cell rate algorithm): one timestamp per key, the "theoretical
// arrival time", instead of a token count and a refill time. Same admissions, O(1) memory, no
// floating point: a bucket of `burst` tokens refilled at count/period.

#include <cstdint>

#include "limiter/limit_state.hpp"
#include "limiter/verdict.hpp"

namespace sluice::limiter {

/// The token-bucket algorithm for one limit; stateless itself, it works on limit_state.
class token_bucket {
 public:
  /// Refill `count` tokens per `period_ns`, hold at most `burst`; all > 0.
  token_bucket(std::uint64_t count, time_ns period_ns, std::uint64_t burst);

  /// Says whether one more request would be admitted at `now`; consumes nothing.
  verdict check(const limit_state& state, time_ns now) const;
  /// Takes one token at `now`; only after check() allowed it at the same `now`.
  void consume(limit_state& state, time_ns now) const;
  /// True while the bucket is not full (an empty entry would behave the same once it is).
  bool holds_state(const limit_state& state, time_ns now) const;
  /// Tokens taken and not yet back at `now`, one on its way back counted as taken.
  std::uint64_t used(const limit_state& state, time_ns now) const;
  /// Sets the bucket to `used` tokens taken at `now`; more than burst is the whole bucket.
  void assign_used(limit_state& state, std::uint64_t used, time_ns now) const;
  /// The time one token takes to come back, rounded up so rounding never over-admits.
  time_ns interval_ns() const { return interval_ns_; }

 private:
  std::uint64_t burst_;
  time_ns interval_ns_;
  time_ns capacity_ns_;  // burst_ * interval_ns_: how far ahead of now the arrival time may run
};

}  // namespace sluice::limiter
