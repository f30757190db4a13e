#pragma once
// What GET /metrics serves: prometheus-cpp's own registry (build info and config reloads:
// rare events, where its locked types cost nothing) and the proxy's per-worker collectable,
// serialized together in the text format 0.0.4.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace sluice::metrics {

/// The scrape: thread-safe.
class exposition {
 public:
  /// Starts with build info for `version`.
  explicit exposition(const std::string& version);

  /// Adds a collectable (kept alive by the exposition).
  void add(std::shared_ptr<const prometheus::Collectable> c);

  /// Counts a config reload.
  void reload_succeeded(std::chrono::system_clock::time_point when);
  void reload_failed();

  /// Every family, serialized (text format 0.0.4).
  std::string text() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<std::shared_ptr<const prometheus::Collectable>> collectables_;
  prometheus::Counter* reload_success_;
  prometheus::Counter* reload_failure_;
  prometheus::Gauge* last_success_;
};

}  // namespace sluice::metrics
