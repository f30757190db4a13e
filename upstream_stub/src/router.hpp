// Route table: which handler answers which method and path.
#pragma once

#include "http_exchange.hpp"
#include "json_response.hpp"
#include "request_target.hpp"
#include "stub_net.hpp"

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

/// What the table says about a request.
struct route_match {
  /// The route to run; null when the path is unknown or the method is not served.
  const route* found = nullptr;
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
  /// Adds a route; call before the server starts.
  void add(route entry);
  /// Finds the route for a method and path (the path without query).
  route_match match(http::verb method, std::string_view path) const;

 private:
  /// Routes in the order added; a linear scan of a dozen entries.
  std::vector<route> routes_;
};

}  // namespace sluice::stub
