#include "jobs_api.hpp"

#include "stub_limits.hpp"

#include <algorithm>
#include <string>

namespace sluice::stub {

jobs_api::jobs_api(job_queue& jobs) : jobs_(jobs) {}

void jobs_api::add_routes(router& routes) {
  routes.add({"/api/jobs",
              false,
              {http::verb::post},
              buffered_handler([this](const buffered_request& req, const request_target& target) {
                return submit(req, target);
              })});
  routes.add({"/api/jobs/",
              true,
              {http::verb::get},
              buffered_handler([this](const buffered_request& req, const request_target& target) {
                return status(req, target);
              })});
}

net::awaitable<string_response> jobs_api::submit(const buffered_request& req,
                                                 const request_target&) {
  std::chrono::milliseconds duration = default_job_duration;
  nlohmann::json input;
  if (req.body().find_first_not_of(" \t\r\n") != std::string::npos) {
    const auto doc = nlohmann::json::parse(req.body(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      co_return error_response(http::status::bad_request, "body must be a JSON object");
    }
    if (const auto it = doc.find("duration_ms"); it != doc.end()) {
      if (!it->is_number() || it->get<double>() < 0) {
        co_return error_response(http::status::bad_request,
                                 "duration_ms must be a non-negative number");
      }
      // Clamped, not refused: the cap only keeps one job from stalling the queue for long.
      const double wanted =
          std::min(it->get<double>(), static_cast<double>(max_job_duration.count()));
      duration = std::chrono::milliseconds(static_cast<std::int64_t>(wanted));
    }
    if (const auto it = doc.find("input"); it != doc.end()) {
      input = *it;
    }
  }
  const std::string id = jobs_.submit(duration, std::move(input));
  const std::string location = "/api/jobs/" + id;
  const nlohmann::json body = {{"job_id", id},
                               {"status", "queued"},
                               {"location", location},
                               {"duration_ms", duration.count()}};
  auto res = json_response(http::status::accepted, body);
  res.set(http::field::location, location);
  co_return res;
}

net::awaitable<string_response> jobs_api::status(const buffered_request&,
                                                 const request_target& target) {
  const auto job = jobs_.find(target.tail);
  if (!job) {
    co_return error_response(http::status::not_found, "job not found",
                             {{"job_id", std::string(target.tail)}});
  }
  co_return json_response(http::status::ok, *job);
}

}  // namespace sluice::stub
