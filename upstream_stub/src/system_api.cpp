#include "system_api.hpp"

#include "listening_ports.hpp"

namespace sluice::stub {

system_api::system_api(const stub_counters& counters, const stats_sampler& sampler,
                       const job_queue& jobs)
    : counters_(counters), sampler_(sampler), jobs_(jobs) {}

void system_api::add_routes(router& routes) {
  // Handlers are members bound to `this`; the API object lives as long as the router.
  const auto bind = [this](auto member) -> buffered_handler {
    return [this, member](const buffered_request& req, const request_target& target) {
      return (this->*member)(req, target);
    };
  };
  routes.add({"/health", false, {http::verb::get}, bind(&system_api::health)});
  routes.add({"/api/system/stats", false, {http::verb::get}, bind(&system_api::stats)});
  routes.add({"/api/system/ports", false, {http::verb::get}, bind(&system_api::ports)});
  routes.add({"/api/services", false, {http::verb::get}, bind(&system_api::services)});
}

net::awaitable<string_response> system_api::health(const buffered_request&, const request_target&) {
  const nlohmann::json body = {
      {"status", "healthy"}, {"service", "upstream-stub"}, {"uptime_s", counters_.uptime_s()}};
  co_return json_response(http::status::ok, body);
}

net::awaitable<string_response> system_api::stats(const buffered_request&, const request_target&) {
  const nlohmann::json body = co_await sampler_.sample();
  co_return json_response(http::status::ok, body);
}

net::awaitable<string_response> system_api::ports(const buffered_request&, const request_target&) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& entry : listening_port::read_all()) {
    list.push_back({{"port", entry.port}, {"address", entry.address}, {"family", entry.family}});
  }
  const auto count = list.size();
  const nlohmann::json body = {{"success", true}, {"ports", std::move(list)}, {"count", count}};
  co_return json_response(http::status::ok, body);
}

net::awaitable<string_response> system_api::services(const buffered_request&,
                                                     const request_target&) {
  // The stub's own parts stand in for the seed's service list; the figures are live.
  const double uptime = counters_.uptime_s();
  nlohmann::json list = nlohmann::json::array();
  list.push_back(
      {{"name", "http"},
       {"status", "running"},
       {"uptime_s", uptime},
       {"connections_active", counters_.connections_active.load(std::memory_order_relaxed)},
       {"connections_total", counters_.connections_total.load(std::memory_order_relaxed)},
       {"requests_total", counters_.requests_total.load(std::memory_order_relaxed)}});
  list.push_back({{"name", "jobs-worker"},
                  {"status", "running"},
                  {"uptime_s", uptime},
                  {"jobs_queued", jobs_.queued()},
                  {"jobs_done", jobs_.done_total()}});
  list.push_back({{"name", "stats-sampler"},
                  {"status", "running"},
                  {"uptime_s", uptime},
                  {"interval_s", sampler_.interval().count()},
                  {"samples_total", sampler_.samples_total()}});
  list.push_back(
      {{"name", "websocket"},
       {"status", "running"},
       {"uptime_s", uptime},
       {"websockets_open", counters_.websockets_open.load(std::memory_order_relaxed)},
       {"websockets_total", counters_.websockets_total.load(std::memory_order_relaxed)}});
  const nlohmann::json body = {{"success", true}, {"services", std::move(list)}};
  co_return json_response(http::status::ok, body);
}

}  // namespace sluice::stub
