// Endpoints that exist only for sluice's tests: headers mirror, streaming echo, download, delay,
// handler runs.
#pragma once

#include "router.hpp"

namespace sluice::stub {

/// Test aids, not part of the seed's API: they let tests see what the proxy forwarded and push
/// large or slow bodies through it.
class test_aids_api {
 public:
  /// Registers the routes of this API; /api/hits reads the runs of `routes`, which outlives it.
  void add_routes(router& routes);

 private:
  /// GET /api/headers: the request line and header fields as the stub received them.
  static net::awaitable<string_response> headers(const buffered_request& req,
                                                 const request_target& target);
  /// POST|PUT /api/echo: the body streamed back through a fixed buffer, any size.
  static net::awaitable<exchange_result> echo(http_exchange& exchange,
                                              const request_target& target);
  /// GET /api/stream?bytes=N&chunk=M: N pattern bytes (byte i is i % 251), chunked.
  static net::awaitable<exchange_result> stream(http_exchange& exchange,
                                                const request_target& target);
  /// GET /api/delay?ms=N: answers after N ms.
  static net::awaitable<string_response> delay(const buffered_request& req,
                                               const request_target& target);
  /// GET /api/hits: each route's handler runs since start, by path.
  static string_response hits(const router& routes);
};

}  // namespace sluice::stub
