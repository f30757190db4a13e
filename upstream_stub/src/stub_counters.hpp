// Process-wide counters shown by GET /api/services.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice::stub {

/// Counters bumped by sessions on any thread; relaxed atomics, since readers only want a recent
/// value.
struct stub_counters {
  /// When the process started serving; uptime is measured from here.
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  /// Connections open right now.
  std::atomic<std::int64_t> connections_active{0};
  /// Connections accepted since start.
  std::atomic<std::uint64_t> connections_total{0};
  /// Requests answered since start (any status).
  std::atomic<std::uint64_t> requests_total{0};
  /// WebSockets open right now (handshake answered, session not yet ended).
  std::atomic<std::int64_t> websockets_open{0};
  /// WebSockets opened since start.
  std::atomic<std::uint64_t> websockets_total{0};

  /// Seconds since start, rounded to milliseconds.
  double uptime_s() const {
    const auto elapsed = std::chrono::steady_clock::now() - started;
    return static_cast<double>(
               std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()) /
           1000.0;
  }
};

}  // namespace sluice::stub
