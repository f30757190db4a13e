#include "metrics/latency_histogram.hpp"

#include <prometheus/client_metric.h>

namespace sluice::metrics {
namespace {

// The bounds in nanoseconds, so observe() compares integers.
constexpr std::array<std::int64_t, latency_bounds_s.size()> bounds_ns = [] {
  std::array<std::int64_t, latency_bounds_s.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::int64_t>(latency_bounds_s[i] * 1e9 + 0.5);
  return out;
}();

}  // namespace

void latency_histogram::observe(std::int64_t ns) {
  if (ns < 0) ns = 0;
  // Bounds are inclusive ("le"); fourteen compares beat a search at this size.
  std::size_t i = 0;
  while (i < bounds_ns.size() && ns > bounds_ns[i]) ++i;
  buckets_[i].add();
  sum_ns_.add(static_cast<std::uint64_t>(ns));
}

void latency_histogram::init(prometheus::ClientMetric& out) {
  out.histogram.bucket.clear();
  for (const double b : latency_bounds_s) out.histogram.bucket.push_back({0, b});
  out.histogram.sample_count = 0;
  out.histogram.sample_sum = 0;
}

void latency_histogram::add_to(prometheus::ClientMetric& out) const {
  // Read each bucket once; the count is their sum, so count and buckets always agree (a count
  // read separately could run ahead of the buckets mid-scrape).
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < bounds_ns.size(); ++i) {
    running += buckets_[i].value();
    out.histogram.bucket[i].cumulative_count += running;
  }
  running += buckets_.back().value();
  out.histogram.sample_count += running;
  out.histogram.sample_sum += static_cast<double>(sum_ns_.value()) / 1e9;
}

}  // namespace sluice::metrics
