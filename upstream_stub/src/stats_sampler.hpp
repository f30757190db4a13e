// Host figures for GET /api/system/stats, measured the way the seed's psutil call measured them.
#pragma once

#include "stub_net.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice::stub {

/// Reads CPU, memory and disk figures from /proc and statvfs; CPU usage is sampled per request.
class stats_sampler {
 public:
  /// `interval` is the CPU sampling window of each request (the seed's cpu_percent(interval=...)).
  explicit stats_sampler(std::chrono::duration<double> interval);

  /// The seed's stats document; takes `interval` to complete because it waits on a timer between
  /// two reads of /proc/stat, which is what made the seed's limiter evadable.
  net::awaitable<nlohmann::json> sample() const;

  /// The CPU sampling window.
  std::chrono::duration<double> interval() const { return interval_; }
  /// Samples taken since start.
  std::uint64_t samples_total() const { return samples_total_.load(std::memory_order_relaxed); }

 private:
  /// CPU sampling window.
  std::chrono::duration<double> interval_;
  /// Samples taken; bumped from const sample().
  mutable std::atomic<std::uint64_t> samples_total_{0};
};

}  // namespace sluice::stub
