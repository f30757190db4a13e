#pragma once
// A duration histogram cell for one worker, with the fixed buckets every sluice histogram uses
// (0.5 ms to 10 s; the alert rules and the dashboard quantiles rely on these bounds).

#include <array>
#include <cstdint>

#include "metrics/counter_cell.hpp"

namespace prometheus {
struct ClientMetric;
}

namespace sluice::metrics {

/// Upper bounds in seconds, ascending; +Inf is implied.
inline constexpr std::array<double, 14> latency_bounds_s{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

/// Observations of one worker: per-bucket (not cumulative) counts and the sum.
class latency_histogram {
 public:
  /// Records one duration; only the owning thread may call this.
  void observe(std::int64_t ns);

  /// Adds this cell's counts into `out` (cumulative buckets, count and sum in seconds). `out`'s
  /// buckets must be latency_bounds_s in order, counts started at zero.
  void add_to(prometheus::ClientMetric& out) const;

  /// Prepares `out` for add_to(): the buckets with zero counts.
  static void init(prometheus::ClientMetric& out);

 private:
  std::array<counter_cell, latency_bounds_s.size() + 1> buckets_;  // last: above every bound
  counter_cell sum_ns_;
};

}  // namespace sluice::metrics
