// Background job endpoints: POST /api/jobs and GET /api/jobs/{id}.
#pragma once

#include "job_queue.hpp"
#include "router.hpp"

namespace sluice::stub {

/// Accepts jobs with 202 and a Location, and reports on them.
class jobs_api {
 public:
  /// Keeps a reference; the queue outlives the server.
  explicit jobs_api(job_queue& jobs);
  /// Registers the routes of this API.
  void add_routes(router& routes);

 private:
  /// POST /api/jobs, body optional: {"duration_ms": N, "input": any}.
  net::awaitable<string_response> submit(const buffered_request& req, const request_target& target);
  /// GET /api/jobs/{id}: 200 or 404.
  net::awaitable<string_response> status(const buffered_request& req, const request_target& target);

  /// The queue; thread-safe on its own.
  job_queue& jobs_;
};

}  // namespace sluice::stub
