#pragma once
// A per-connection deadline that costs nothing per I/O operation. Setting it stores a time;
// one timer wakes at most once per timeout period, re-arms itself if the deadline moved on,
// and closes the socket if it has passed. (Beast's tcp_stream arms and cancels a timer on every
// operation, which profiling showed to be a large share of a proxied request's cost.)

#include <chrono>
#include <memory>

#include <boost/asio/ip/tcp.hpp>

#include "net/io_types.hpp"
#include <boost/asio/steady_timer.hpp>

namespace sluice::net {

/// Watches one socket; the socket must outlive the deadline (both usually sit in one object).
class deadline {
 public:
  /// Watches `socket`, using a timer on the socket's executor.
  explicit deadline(socket_t& socket);

  /// The timer never sleeps longer than `d`. Set it to the shortest timeout this deadline will be
  /// given: then a new deadline is never earlier than the pending wake-up, and no request ever
  /// has to re-arm the timer (which costs a timerfd syscall when it is the earliest one).
  void max_sleep(std::chrono::steady_clock::duration d);
  ~deadline();
  deadline(const deadline&) = delete;
  deadline& operator=(const deadline&) = delete;

  /// The socket is closed if the next operations are not done within `d` from now.
  void expires_after(std::chrono::steady_clock::duration d);
  /// No deadline for now (a client waiting on its upstream); the timer stops at its next wake-up.
  void expires_never();
  /// No deadline, and the timer let go at once (a connection put in the pool: a pending wait
  /// would keep the worker's io_context running at shutdown).
  void cancel();
  /// True once the deadline closed the socket (tells a timeout from other errors).
  bool expired() const;

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace sluice::net
