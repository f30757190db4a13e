#pragma once
// The proxy's metrics: per-worker cells written on the request path, summed into Prometheus
// families only when scraped. Implements prometheus::Collectable, so the exposition serializes
// it with prometheus-cpp's TextSerializer next to prometheus-cpp's own registry.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>

#include "metrics/route_series.hpp"

namespace sluice::metrics {

/// Values owned elsewhere (limiter, connection and WebSocket counts), read at scrape time.
struct live_values {
  std::uint64_t client_connections = 0;
  std::uint64_t client_connection_keys = 0;  ///< distinct client keys with a connection open
  std::uint64_t key_table_keys = 0;
  std::uint64_t key_table_capacity = 0;
  std::uint64_t key_table_evictions = 0;
  std::uint64_t key_table_evictions_limited = 0;
  std::vector<std::pair<std::string, std::uint64_t>> websockets_open;  ///< by route name
};

/// Every series of the proxy. Series are created when a config is loaded (bounded by the
/// config's routes and limits, never by client input) and kept for the life of the process.
class proxy_metrics : public prometheus::Collectable {
 public:
  /// Cells for `workers` workers.
  explicit proxy_metrics(unsigned workers);

  /// The series of route `name`, created on first use. Thread-safe; not for the request path.
  route_series& route(std::string_view name);
  /// The series of limit `limit` of route `route`, created on first use. Thread-safe.
  limit_series& limit(std::string_view route, std::string_view limit);
  /// Requests refused before a route was known (unreadable heads); route label "-".
  route_series& unrouted() { return *unrouted_; }
  /// Worker `w`'s route-independent cells.
  worker_cells& worker(unsigned w) { return workers_cells_[w]; }
  unsigned workers() const { return workers_; }

  /// Where live_values come from; called on each scrape.
  void set_live_source(std::function<void(live_values&)> source);

  /// Sums the cells into families.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  unsigned workers_;
  std::unique_ptr<worker_cells[]> workers_cells_;
  mutable std::mutex mu_;  // guards the maps and the source, never taken on the request path
  std::deque<route_series> routes_;  // deque: references stay valid as it grows
  std::deque<limit_series> limits_;
  std::map<std::string, route_series*, std::less<>> route_index_;
  std::map<std::pair<std::string, std::string>, limit_series*> limit_index_;
  route_series* unrouted_;
  std::function<void(live_values&)> live_source_;
};

}  // namespace sluice::metrics
