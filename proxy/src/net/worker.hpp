#pragma once
// One worker: a thread running its own io_context, with the connections the listener hands it,
// its own upstream pool and access-log buffer. Nothing in here is touched by another thread
// except through adopt() and stop(), which post.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/io_types.hpp"
#include "net/access_log.hpp"
#include "net/shared_state.hpp"
#include "net/upstream_pool.hpp"

namespace sluice::net {

class downstream_session;

/// A worker thread and everything it owns.
class worker {
 public:
  /// Worker number `index` (0-based, its metric cells) of `shared`; its thread starts with start().
  worker(shared_state& shared, unsigned index);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  /// The worker's io_context (the listener runs its accept loop on worker 0's).
  boost::asio::io_context& context() { return ctx_; }
  /// Starts the thread (and the access-log flush timer).
  void start();
  /// Takes an accepted connection from `peer` (a raw descriptor, released by the listener's
  /// thread, with the slot the listener took for it) and serves it on this worker. Thread-safe.
  void adopt(boost::asio::ip::tcp protocol, socket_t::native_handle_type fd, ip_address peer,
             connection_slot slot);
  /// Stops accepting, lets requests in progress finish within `drain`, then closes the rest.
  /// Thread-safe. join() waits for the thread.
  void stop(std::chrono::nanoseconds drain);
  /// What the drain deadline cut on this worker; read after join().
  struct cut_counts {
    unsigned requests = 0;    ///< requests whose head was read, not yet answered in full
    unsigned websockets = 0;  ///< WebSockets still relaying
  };
  /// What the drain deadline cut (zeros when everything finished in time). After join() only.
  cut_counts cut() const { return cut_; }
  /// Waits for the thread to end.
  void join();

  /// This worker's number: its cells in per-worker metrics.
  unsigned index() const { return index_; }
  /// This worker's state, for its sessions (same thread only).
  shared_state& shared() { return shared_; }
  upstream_pool& pool() { return pool_; }
  access_log_buffer& access_log() { return access_log_; }
  /// Writes a fresh request id, 32 hex digits, into `out` (its capacity is reused).
  void new_request_id(std::string& out);
  /// Session registry for shutdown.
  void add(downstream_session* s) { sessions_.insert(s); }
  void remove(downstream_session* s);
  /// True once stop() began: sessions finish their request and close.
  bool stopping() const { return stopping_; }

 private:
  task<void> flush_loop();

  shared_state& shared_;
  unsigned index_;
  // Every socket of a worker is used only by its own thread (other threads only post to the
  // io_context), so the per-descriptor reactor locks can go; the scheduler keeps its lock.
  boost::asio::io_context ctx_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  // Keeps run() going while the worker has no connection yet; let go at stop().
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  upstream_pool pool_;
  access_log_buffer access_log_;
  timer_t flush_timer_;
  timer_t drain_timer_;
  std::unordered_set<downstream_session*> sessions_;
  std::uint64_t id_state_;
  bool stopping_ = false;
  cut_counts cut_;
  std::thread thread_;
};

}  // namespace sluice::net
