// Route table: which handler answers which method and path.
#pragma once

#include "http_exchange.hpp"
#include "json_response.hpp"
#include "request_target.hpp"
#include "stub_net.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sluice::stub {

/// The request a buffered handler gets: fully read, body at most max_body_bytes.
using buffered_request = http::request<http::string_body>;

/// A handler that gets the whole request and returns the whole response; the session does the I/O.
using buffered_handler =
    std::function<net::awaitable<string_response>(const buffered_request&, const request_target&)>;

/// A handler that does its own body I/O (streaming echo and downloads, and later WebSocket
/// upgrades).
using streaming_handler =
    std::function<net::awaitable<exchange_result>(http_exchange&, const request_target&)>;

/// One entry of the table.
struct route {
  /// Exact path, or a prefix ending in '/' when `prefix` is set ("/api/jobs/").
  std::string path;
  /// True when `path` is a prefix that must be followed by exactly one non-empty segment.
  bool prefix = false;
  /// Methods served; a route serving GET also serves HEAD.
  std::vector<http::verb> methods;
  /// What answers.
  std::variant<buffered_handler, streaming_handler> handler;
};

/// How the table reads a request's path and method (--routing).
enum class routing_mode {
  /// The path as sent, compared byte for byte; the method as parsed (like the seed's server).
  exact,
  /// The path as lenient frameworks read it (loose_path()) and the method upper-cased.
  loose,
};

/// What the table says about a request.
struct route_match {
  /// The route to run; null when the path is unknown or the method is not served.
  const route* found = nullptr;
  /// Position of `found` in the table, for record_run().
  std::size_t index = 0;
  /// The one-segment rest of a prefix route's path.
  std::string_view tail;
  /// True when some route serves the path with another method (answer 405, not 404).
  bool path_known = false;
  /// The Allow header value for a 405, e.g. "GET, HEAD".
  std::string allow;
};

/// Route table, filled once at startup and then read from every thread without locks.
class router {
 public:
  /// One route's handler runs, as GET /api/hits reports them.
  struct route_runs {
    /// The route's path (a prefix route's ends in '/').
    std::string path;
    /// Handler runs since start.
    std::uint64_t runs = 0;
  };

  /// A table that reads paths as `mode` says.
  explicit router(routing_mode mode = routing_mode::exact) : mode_(mode) {}

  /// How paths and methods are read.
  routing_mode mode() const { return mode_; }
  /// Adds a route; call before the server starts.
  void add(route entry);
  /// Finds the route for a method and path (the path without query; in loose mode already
  /// passed through loose_path()).
  route_match match(http::verb method, std::string_view path) const;
  /// Counts one run of the handler `match` found; any thread.
  void record_run(const route_match& match) const;
  /// Every route's runs so far, in table order (approximate while requests run).
  std::vector<route_runs> runs_approx() const;

 private:
  /// How paths and methods are read.
  routing_mode mode_;
  /// Routes in the order added; a linear scan of a dozen entries.
  std::vector<route> routes_;
  /// Runs of each route's handler, by position; a deque so adding never moves an atomic.
  /// Mutable: sessions hold the table const and only count (relaxed).
  mutable std::deque<std::atomic<std::uint64_t>> runs_;
};

}  // namespace sluice::stub
