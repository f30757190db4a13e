#pragma once
// A worker's keep-alive connections to the upstream. One pool per worker thread, never shared,
// so it needs no lock; idle connections are checked before reuse, since the upstream may have
// closed them while they sat in the pool.

#include <chrono>
#include <memory>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "net/io_types.hpp"
#include "config/config.hpp"
#include "net/deadline.hpp"

namespace sluice::net {

/// One connection to the upstream with its read buffer and deadline.
struct upstream_connection {
  /// A connection not yet connected, on `ex`.
  explicit upstream_connection(const executor_t& ex) : socket(ex), dl(socket) {}
  socket_t socket;
  deadline dl;
  boost::beast::flat_buffer buffer;
  bool reused = false;  ///< came from the pool: may turn out closed by the upstream
  std::chrono::steady_clock::time_point idle_since{};
};

/// Why acquire() failed.
enum class connect_failure { none, refused, timeout, resolve };

/// Pool of idle upstream connections for one worker.
class upstream_pool {
 public:
  /// Connections are made on `ex` (the worker's executor).
  explicit upstream_pool(executor_t ex) : ex_(std::move(ex)) {}

  /// An idle connection that is still open, else a new one (connect under connect_timeout).
  /// `body_timeout` is the longest pause allowed while a body streams (timeouts.client_body).
  task<std::unique_ptr<upstream_connection>> acquire(
      const config::upstream_settings& settings, config::duration body_timeout,
      connect_failure& failure);
  /// Returns a connection whose last response was read completely and allows keep-alive.
  void release(std::unique_ptr<upstream_connection> conn, const config::upstream_settings& settings);
  /// Closes every idle connection (shutdown).
  void close_all();

 private:
  static bool still_open(upstream_connection& conn);

  executor_t ex_;
  std::vector<std::unique_ptr<upstream_connection>> idle_;
  config::endpoint resolved_for_;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints_;
};

}  // namespace sluice::net
