// The seed's monitoring endpoints: /health, /api/system/stats, /api/system/ports, /api/services.
#pragma once

#include "job_queue.hpp"
#include "router.hpp"
#include "stats_sampler.hpp"
#include "stub_counters.hpp"

namespace sluice::stub {

/// Health, host statistics, listening ports and the stub's own services.
class system_api {
 public:
  /// Keeps references; all three outlive the server.
  system_api(const stub_counters& counters, const stats_sampler& sampler, const job_queue& jobs);
  /// Registers the routes of this API.
  void add_routes(router& routes);

 private:
  /// GET /health.
  net::awaitable<string_response> health(const buffered_request& req, const request_target& target);
  /// GET /api/system/stats: waits the sampling interval, like the seed.
  net::awaitable<string_response> stats(const buffered_request& req, const request_target& target);
  /// GET /api/system/ports.
  net::awaitable<string_response> ports(const buffered_request& req, const request_target& target);
  /// GET /api/services.
  net::awaitable<string_response> services(const buffered_request& req,
                                           const request_target& target);

  /// Uptime and connection figures.
  const stub_counters& counters_;
  /// Host figures.
  const stats_sampler& sampler_;
  /// Job figures for the services list.
  const job_queue& jobs_;
};

}  // namespace sluice::stub
