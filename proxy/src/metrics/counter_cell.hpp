#pragma once
// Per-worker metric cells. Each cell has one writer (its worker's thread) and is read by the
// scrape, so an update is a relaxed load and store: no lock, no read-modify-write, no cache line
// bouncing between cores. The scrape may see a value a moment old, never a torn one.

#include <atomic>
#include <cstdint>

namespace sluice::metrics {

/// A monotonic count written by one thread.
class counter_cell {
 public:
  /// Adds `n`; only the owning thread may call this.
  void add(std::uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  /// The count; any thread.
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

/// A level (up and down) written by one thread; the sum over workers is the gauge.
class gauge_cell {
 public:
  void add(std::int64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

}  // namespace sluice::metrics
