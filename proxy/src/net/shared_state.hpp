#pragma once
// What all workers share: the limiter (exact across threads), the current config snapshot
// (swapped atomically), the client-connection counts and the access-log sink.

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include "limiter/connection_slots.hpp"
#include "limiter/limiter.hpp"
#include "limiter/websocket_slots.hpp"
#include "net/access_log.hpp"
#include "net/proxy_snapshot.hpp"

namespace sluice::net {

/// A client connection's slot in connection_slots, given back once when the guard goes (the
/// session's end, or a hand-over to a worker that did not happen). Move-only.
class connection_slot {
 public:
  connection_slot() = default;
  /// Holds `admission` (admitted) for `key` in `slots`.
  connection_slot(limiter::connection_slots& slots, const ip_address& key,
                  limiter::connection_admission admission)
      : slots_(&slots), key_(key), admission_(admission) {}
  connection_slot(connection_slot&& o) noexcept
      : slots_(std::exchange(o.slots_, nullptr)), key_(o.key_), admission_(o.admission_) {}
  connection_slot& operator=(connection_slot&& o) noexcept {
    if (this != &o) {
      reset();
      slots_ = std::exchange(o.slots_, nullptr);
      key_ = o.key_;
      admission_ = o.admission_;
    }
    return *this;
  }
  ~connection_slot() { reset(); }

  /// True for a connection taken from the reserve: exempt requests only.
  bool reserve_only() const { return admission_.kind == limiter::connection_class::reserve; }
  /// Gives the slot back now (idempotent).
  void reset() {
    if (slots_ != nullptr) std::exchange(slots_, nullptr)->release(key_, admission_);
  }

 private:
  limiter::connection_slots* slots_ = nullptr;
  ip_address key_;
  limiter::connection_admission admission_;
};

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

  /// Client connections open, in total and per client key (taken at accept, given back by
  /// connection_slot).
  limiter::connection_slots& connections() { return connections_; }
  /// Client connections open now.
  std::uint32_t open_connections() const { return connections_.open(); }

 private:
  std::atomic<std::shared_ptr<const proxy_snapshot>> snapshot_;
  limiter::limiter limiter_;
  limiter::websocket_slots websocket_slots_;
  std::shared_ptr<access_log_sink> access_log_;
  limiter::connection_slots connections_;
};

}  // namespace sluice::net
