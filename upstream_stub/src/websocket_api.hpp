// The seed's WebSocket endpoints (/ws, /api/system/ws, /api/system/metrics) and /api/ws/stats.
#pragma once

#include "issued_tokens.hpp"
#include "router.hpp"
#include "stats_sampler.hpp"
#include "stub_counters.hpp"
#include "websocket_session.hpp"

#include <string>

namespace sluice::stub {

/// Checks an upgrade request (token, upgrade headers) and hands it to a websocket_session.
class websocket_api {
 public:
  /// Keeps references; all three outlive the server.
  websocket_api(stub_counters& counters, const stats_sampler& sampler, const issued_tokens& tokens,
                websocket_settings settings);
  /// Registers the routes of this API.
  void add_routes(router& routes);

 private:
  /// GET /ws, /api/system/metrics (public) and /api/system/ws (token required): 101 and the
  /// WebSocket, or 401, 426 or 400 with the usual JSON error body.
  net::awaitable<exchange_result> open(http_exchange& exchange, const request_target& target,
                                       bool token_required);
  /// GET /api/ws/stats: {"open": N, "total": M}.
  net::awaitable<string_response> stats(const buffered_request& req, const request_target& target);
  /// True when the request carries a token from /api/auth/login, as `Authorization: Bearer TOKEN`
  /// or `?token=TOKEN`.
  bool authorized(const http::request<http::empty_body>& req, const request_target& target) const;

  /// WebSocket counts.
  stub_counters& counters_;
  /// Source of the pushed stats.
  const stats_sampler& sampler_;
  /// Tokens the login endpoint issued.
  const issued_tokens& tokens_;
  /// Push period for every endpoint.
  websocket_settings settings_;
};

}  // namespace sluice::stub
