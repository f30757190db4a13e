#pragma once
// A worker's keep-alive connections to the upstream. One pool per worker thread, never shared,
// so it needs no lock.
//
// A pooled connection always has a read outstanding (its "standing read"). The upstream may close
// an idle connection, or send bytes nobody asked for (a body after a HEAD answer); the read then
// completes while the connection sits in the pool, and the connection is closed at once, as NGINX
// does. When the connection is taken for a request, the same read, still waiting, receives the
// response. That replaces a liveness check before each reuse (a system call) and the read attempt
// Asio makes when a read starts (another one, which fails while the upstream is still working).
// When the response's last read left the socket empty (drained_buffer.hpp), even the read's
// first attempt is skipped: it waits for epoll, and whatever arrives from then on (bytes, a
// FIN, a reset) is an event that completes it.
//
// The catch: a read completes (bytes taken from the socket, or its close seen) before its handler
// runs; the handler waits in the worker's queue. A connection whose read has completed but whose
// handler has not run yet looks open and quiet, and its stray bytes would be taken for the next
// request's response. Two fences close that gap, both relying on the worker's queue running
// handlers in the order they were queued (one thread per io_context):
// - at release, a handler is posted after the read is started; until it has run, a read that
//   completed at once (bytes or a close already there) may be waiting, and the connection is not
//   handed out;
// - at take, another is posted; a completion whose handler runs before it was made before the
//   connection was taken, so it is stale: the request fails as on a connection the upstream had
//   closed (retried only when that is safe), and its bytes never reach a client.
// What no fence can see is an arrival whose epoll event the reactor has not collected yet when
// the connection is taken: bytes an upstream sends unasked in that instant are read as the
// response, as with any HTTP/1.1 client. And a reset that came in right behind the response's
// last bytes raises no event of its own: the connection is found dead at the next request's
// first write, which the socket refuses, so that request is sent again on a new connection
// whatever its method (none of it reached the upstream).

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
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
  explicit upstream_connection(const executor_t& ex);
  ~upstream_connection();
  upstream_connection(const upstream_connection&) = delete;
  upstream_connection& operator=(const upstream_connection&) = delete;

  /// A standing read is outstanding: the response's first bytes will come through it.
  bool standing_read_pending() const { return standing->outstanding && !standing->completed; }
  /// Waits for the outstanding standing read (a plain function: the wait costs no coroutine
  /// frame of its own). Set the deadline first.
  auto wait_standing_read() {
    auto token = boost::asio::as_tuple(use_task);
    return boost::asio::async_initiate<decltype(token), void(boost::system::error_code, std::size_t)>(
        [st = standing.get()](auto handler) { st->waiter.emplace(std::move(handler)); }, token);
  }
  /// Takes the finished standing read's result: its bytes go into `buffer`. Errors in
  /// read_header's terms: timeout, end_of_stream (closed before a byte came), or the socket's.
  /// No error when there was no standing read.
  boost::system::error_code take_standing_read();
  /// Cancels an outstanding standing read (the socket is about to be handed to something else).
  void drop_standing_read();

  // The buffer first, so it goes last: a pending read writes into it until the socket closes.
  boost::beast::flat_buffer buffer;
  socket_t socket;
  deadline dl;
  bool reused = false;  ///< came from the pool: may turn out closed by the upstream
  std::chrono::steady_clock::time_point idle_since{};

  /// What the standing read's handler shares with the connection; it outlives either.
  struct standing_read {
    upstream_connection* conn = nullptr;  ///< null once the connection is gone
    unsigned generation = 0;              ///< a cancelled read's late completion is ignored
    bool outstanding = false;
    bool completed = false;  ///< finished, and nobody has taken the result yet
    bool in_use = false;     ///< taken for a request: a completion is a response, not a close
    bool settled = false;    ///< the release fence has run: no completion can be waiting unseen
    bool taken_fence = false;  ///< the take fence has run: completions from now on are fresh
    bool stale = false;      ///< completed before the connection was taken
    boost::system::error_code ec;
    std::size_t bytes = 0;
    // In an optional: Boost 1.81's move assignment of any_completion_handler recurses for ever.
    std::optional<boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>>
        waiter;
  };
  std::shared_ptr<standing_read> standing;
};

/// Why connect() failed.
enum class connect_failure {
  none,
  refused,      ///< refused, reset or unreachable: 502
  timeout,      ///< over upstream.connect_timeout: 504
  resolve,      ///< the name did not resolve: 502
  descriptors,  ///< sluice is out of file descriptors: 503 (the upstream is not at fault)
};

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
  static void start_standing_read(upstream_connection& conn);

  executor_t ex_;
  std::vector<std::unique_ptr<upstream_connection>> idle_;
  config::endpoint resolved_for_;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints_;
};

}  // namespace sluice::net
