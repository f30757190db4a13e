#pragma once
// What the two sides and the two directions of one relayed WebSocket share: when anything was
// last read, whether (and since when) it is closing, how it ended, the coroutines it spawned
// (the relay waits for every one before it may go), and two timers: the relay's own, which it
// sleeps on between deadlines, and the gate a writer waits at while another frame is on the wire.

#include <chrono>
#include <exception>
#include <string>
#include <utility>

#include <boost/asio/co_spawn.hpp>

#include "net/io_types.hpp"

namespace sluice::net {

/// The shared state of one websocket_relay; all on the relay's strand (its worker's thread).
struct websocket_link {
  using clock = std::chrono::steady_clock;

  /// Timers on `ex`, the worker's executor.
  explicit websocket_link(const executor_t& ex) : wake(ex), gate(ex) {}

  /// Something was read from either side: idle_timeout starts again.
  void touch() { last_activity = clock::now(); }
  /// The closing handshake has begun (a close frame either way, or a side gone): the grace
  /// period starts the first time, and the relay is woken to keep its deadline.
  void start_closing() {
    if (closing_since != clock::time_point::max()) return;
    closing_since = clock::now();
    wake.cancel();
  }
  /// True once start_closing() was called.
  bool closing() const { return closing_since != clock::time_point::max(); }
  /// Keeps the first reason the relay ended, for its log line.
  void note(std::string reason) {
    if (how.empty()) how = std::move(reason);
  }
  /// Runs `work` beside the relay; the relay is woken when it ends.
  template <class Work>
  void spawn(Work&& work) {
    ++outstanding;
    boost::asio::co_spawn(wake.get_executor(), std::forward<Work>(work), [this](std::exception_ptr) {
      --outstanding;
      wake.cancel();
    });
  }
  /// Wakes every writer waiting at the gate (they look again whether their side is free).
  void open_gate() {
    if (gate_waiters > 0) gate.cancel();
  }

  clock::time_point last_activity = clock::now();        ///< last read from either side
  clock::time_point closing_since = clock::time_point::max();  ///< max: not closing
  std::string how;       ///< first reason the relay ended
  int outstanding = 0;   ///< spawned coroutines still running (pumps and close frames)
  timer_t wake;          ///< the relay sleeps on it until its next deadline or a change
  timer_t gate;          ///< writers wait on it for a side's write to finish
  int gate_waiters = 0;  ///< how many do
};

}  // namespace sluice::net
