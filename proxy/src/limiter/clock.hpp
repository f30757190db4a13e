#pragma once
// Time for the limiter: plain nanosecond counts on a monotonic clock. The limiter never reads a
// clock itself; sessions read it once per request and pass `now` down, tests pass any value.

#include <chrono>
#include <cstdint>

namespace sluice::limiter {

/// Nanoseconds on a monotonic clock (steady_clock's epoch in production).
using time_ns = std::int64_t;

/// Nanoseconds in a std::chrono duration.
constexpr time_ns to_ns(std::chrono::nanoseconds d) { return d.count(); }

/// The production clock: steady, never goes back, unaffected by wall-clock changes.
struct steady_clock_source {
  /// The current monotonic time.
  static time_ns now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

/// A clock that moves only when told: the one tests use to land exactly on window edges.
class manual_clock {
 public:
  /// Starts at `start` (any value; 0 is fine).
  explicit manual_clock(time_ns start = 0) : now_(start) {}
  /// The current manual time.
  time_ns now() const { return now_; }
  /// Moves time forward by `d`.
  void advance(std::chrono::nanoseconds d) { now_ += d.count(); }
  /// Jumps to an absolute time.
  void set(time_ns t) { now_ = t; }

 private:
  time_ns now_;
};

}  // namespace sluice::limiter
