#pragma once
// The series of one route (by name) and of one limit, one cache-line-aligned block of cells per
// worker. A series outlives config reloads: a route that keeps its name keeps its counters.

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "metrics/counter_cell.hpp"
#include "metrics/latency_histogram.hpp"

namespace sluice::metrics {

/// The `decision` label: what became of a request.
enum class decision {
  allowed,  ///< every limit agreed (or the route has none); forwarded
  limited,  ///< refused by a limit: 429 (or 503 when the key table was full)
  exempt,   ///< exempt route or allowlisted client; never counted by a limit
  shadow,   ///< a limit in shadow mode would have refused it; forwarded
  error,    ///< refused before any decision: unreadable, unsupported framing, CONNECT
};
inline constexpr std::size_t decision_count = 5;
inline constexpr std::array<const char*, decision_count> decision_names{
    "allowed", "limited", "exempt", "shadow", "error"};

/// The `method_class` label.
enum class method_class { read, write };
inline constexpr std::size_t method_class_count = 2;
inline constexpr std::array<const char*, method_class_count> method_class_names{"read", "write"};

/// The `reason` label of a refused WebSocket handshake.
enum class websocket_refusal { per_ip, per_route, global };
inline constexpr std::size_t websocket_refusal_count = 3;
inline constexpr std::array<const char*, websocket_refusal_count> websocket_refusal_names{
    "per_ip", "per_route", "global"};

/// The `reason` label of a client connection refused by sluice.
enum class connection_refusal {
  per_ip,       ///< caps.max_connections_per_ip reached at accept: fixed 503, nothing read
  global,       ///< caps.max_client_connections reached (reserve included) at accept: fixed 503
  reserve,      ///< a request on a reserve connection, neither exempt nor allowlisted: 503
  descriptors,  ///< out of file descriptors at accept: fixed 503 through the spare descriptor
};
inline constexpr std::size_t connection_refusal_count = 4;
inline constexpr std::array<const char*, connection_refusal_count> connection_refusal_names{
    "per_ip", "global", "reserve", "descriptors"};
static_assert(static_cast<std::size_t>(connection_refusal::descriptors) + 1 ==
              connection_refusal_count);

/// One worker's cells of one route.
struct alignas(64) route_cells {
  std::array<std::array<counter_cell, decision_count>, method_class_count> requests;
  std::array<counter_cell, 5> responses;  ///< by status class, 1xx first
  std::array<counter_cell, websocket_refusal_count> websocket_refused;
  latency_histogram request_duration;
  latency_histogram upstream_duration;

  /// Counts a response with `status` (100-599; anything else is not counted).
  void response(unsigned status) {
    if (status >= 100 && status < 600) responses[status / 100 - 1].add();
  }
};

/// A route's series across all workers.
class route_series {
 public:
  route_series(std::string name, unsigned workers)
      : name_(std::move(name)), workers_(workers), cells_(new route_cells[workers]) {}

  const std::string& name() const { return name_; }
  unsigned workers() const { return workers_; }
  /// Worker `w`'s cells (its thread only writes them).
  route_cells& cells(unsigned w) { return cells_[w]; }
  const route_cells& cells(unsigned w) const { return cells_[w]; }

 private:
  std::string name_;
  unsigned workers_;
  std::unique_ptr<route_cells[]> cells_;
};

/// A counter padded to its own cache line.
struct alignas(64) padded_counter {
  counter_cell cell;
};

/// Refusals by one limit of one route, across all workers.
class limit_series {
 public:
  limit_series(std::string route, std::string limit, unsigned workers)
      : route_(std::move(route)), limit_(std::move(limit)), workers_(workers),
        hits_(new padded_counter[workers]) {}

  const std::string& route() const { return route_; }
  const std::string& limit() const { return limit_; }
  /// Counts a refusal on worker `w`.
  void hit(unsigned w) { hits_[w].cell.add(); }
  /// The sum over workers.
  std::uint64_t total() const;

 private:
  std::string route_;
  std::string limit_;
  unsigned workers_;
  std::unique_ptr<padded_counter[]> hits_;
};

/// Cells of one worker that belong to no route.
struct alignas(64) worker_cells {
  gauge_cell in_flight;                ///< requests being handled
  counter_cell upstream_connect_errors;  ///< connections to the upstream that failed or timed out
  counter_cell upstream_timeouts;        ///< upstream too slow to answer (response_timeout)
  /// Client connections refused, by reason (accept refusals are counted on worker 0's thread,
  /// where the listener runs).
  std::array<counter_cell, connection_refusal_count> connections_refused;

  /// Counts a refused client connection.
  void refused(connection_refusal why) { connections_refused[static_cast<std::size_t>(why)].add(); }
};

}  // namespace sluice::metrics
