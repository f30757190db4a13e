#pragma once
// A worker's keep-alive connections to the upstream. One pool per worker thread, never shared,
// so it needs no lock. An idle connection is checked when it is taken (one non-blocking peek):
// the upstream may have closed it while it sat in the pool, or sent bytes nobody asked for (a
// body after a HEAD answer), which must never be read as the next request's response.
//
// A read kept outstanding on every pooled connection (the NGINX way: a close is noticed at once)
// was tried and measured. With Asio, telling a read that completed before the connection was
// taken from one that completed after takes two fences through the worker's queue per request,
// and those cost more than the peek they replaced; see docs/benchmarks.md.

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

/// Why connect() failed.
enum class connect_failure { none, refused, timeout, resolve };

/// Pool of idle upstream connections for one worker.
class upstream_pool {
 public:
  /// Connections are made on `ex` (the worker's executor).
  explicit upstream_pool(executor_t ex) : ex_(std::move(ex)) {}

  /// An idle connection that is still open and quiet, or null. A plain function: most
  /// requests get their connection here, without a coroutine frame.
  std::unique_ptr<upstream_connection> take_idle(const config::upstream_settings& settings);
  /// A new connection (connect under connect_timeout; resolved on first use).
  /// `body_timeout` is the longest pause allowed while a body streams (timeouts.client_body).
  task<std::unique_ptr<upstream_connection>> connect(
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
