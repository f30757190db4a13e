#pragma once
// What all workers share: the limiter (exact across threads), the current config snapshot
// (swapped atomically), the client-connection count and the access-log sink.

#include <atomic>
#include <cstdint>
#include <memory>

#include "limiter/limiter.hpp"
#include "limiter/websocket_slots.hpp"
#include "net/access_log.hpp"
#include "net/proxy_snapshot.hpp"

namespace sluice::net {

/// Shared by every worker thread; every member is thread-safe.
class shared_state {
 public:
  /// Starts with `initial` as the running config.
  explicit shared_state(std::shared_ptr<const proxy_snapshot> initial);

  /// The running snapshot; a request keeps the one it started with.
  std::shared_ptr<const proxy_snapshot> snapshot() const {
    return snapshot_.load(std::memory_order_acquire);
  }
  /// Makes `next` the running snapshot for requests that start from now on.
  void swap_snapshot(std::shared_ptr<const proxy_snapshot> next) {
    snapshot_.store(std::move(next), std::memory_order_release);
  }

  /// The limiter (sized from the first config's key_table.max_keys).
  limiter::limiter& limiter() { return limiter_; }
  /// Open-WebSocket counts behind the connection caps.
  limiter::websocket_slots& websocket_slots() { return websocket_slots_; }
  /// The access-log sink, or null when logging is off.
  const std::shared_ptr<access_log_sink>& access_log() const { return access_log_; }

  /// Takes a client-connection slot if fewer than `max` are taken.
  bool try_open_connection(std::uint32_t max) {
    auto n = connections_.load(std::memory_order_relaxed);
    do {
      if (n >= max) return false;
    } while (!connections_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    return true;
  }
  /// Client connections open now.
  std::uint32_t open_connections() const { return connections_.load(std::memory_order_relaxed); }
  /// Gives a slot back.
  void close_connection() { connections_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  std::atomic<std::shared_ptr<const proxy_snapshot>> snapshot_;
  limiter::limiter limiter_;
  limiter::websocket_slots websocket_slots_;
  std::shared_ptr<access_log_sink> access_log_;
  std::atomic<std::uint32_t> connections_{0};
};

}  // namespace sluice::net
