#pragma once
// Exact sliding window: at most `count` admissions in any window of `period`. It keeps the time of
// every admission still inside the window (a log), because nothing less is exact: approximations
// that weight the previous fixed window admit more than `count` when traffic bunches at a window's
// end, which is the kind of gap the seed's incident came from.

#include <cstdint>

#include "limiter/limit_state.hpp"
#include "limiter/verdict.hpp"

namespace sluice::limiter {

/// The sliding-window log algorithm for one limit; stateless itself, it works on limit_state.
class sliding_window {
 public:
  /// `count` admissions per `period_ns`; both > 0.
  sliding_window(std::uint64_t count, time_ns period_ns);

  /// Forgets admissions that left the window, then says whether one more would be admitted.
  /// Consumes nothing: call consume() once every limit of the request has agreed.
  verdict check(limit_state& state, time_ns now) const;
  /// Records an admission at `now`; only after check() allowed it at the same `now`.
  void consume(limit_state& state, time_ns now) const;
  /// Looks without changing anything (admin explain); same numbers as check().
  verdict peek(const limit_state& state, time_ns now) const;
  /// True while some admission is still inside the window.
  bool holds_state(const limit_state& state, time_ns now) const;
  /// Frees the log's heap memory once nothing is held (the entry stays usable).
  void compact(limit_state& state, time_ns now) const;

  /// Admissions inside the window at `now` (what check() would count); changes nothing.
  std::uint32_t held(const limit_state& state, time_ns now) const;
  /// Replaces the log with `n` admissions at `now` (at most count), in the heap log even for one
  /// so that value_ keeps what it held (a reload converting a token bucket's used tokens).
  void assign(limit_state& state, std::uint64_t n, time_ns now) const;
  /// When the newest admission leaves the window (the entry's expiry); 0 when the log is empty.
  time_ns expires_at(const limit_state& state) const;

 private:
  time_ns oldest(const limit_state& state) const;
  time_ns newest(const limit_state& state) const;
  std::uint32_t live(const limit_state& state, time_ns now, std::uint32_t& head) const;
  verdict evaluate(std::uint32_t held, time_ns oldest_time, time_ns now) const;

  std::uint64_t count_;
  time_ns period_ns_;
};

}  // namespace sluice::limiter
