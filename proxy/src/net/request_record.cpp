#include "net/request_record.hpp"

#include <array>

namespace sluice::net {
namespace http = boost::beast::http;

namespace {

using outcome = request_record::outcome;

constexpr std::array<std::pair<outcome, std::string_view>, 5> outcome_names{{
    {outcome::allowed, "allowed"},
    {outcome::limited, "limited"},
    {outcome::exempt, "exempt"},
    {outcome::error, "error"},
    {outcome::shadow, "shadow"},
}};
constexpr std::array<metrics::decision, 5> outcome_decisions{
    metrics::decision::allowed, metrics::decision::limited, metrics::decision::exempt,
    metrics::decision::error, metrics::decision::shadow};
static_assert(static_cast<int>(outcome::shadow) == 4 && outcome_names[4].first == outcome::shadow,
              "outcome_names and outcome_decisions follow request_record::outcome");

double ms_between(request_record::clock::time_point a, request_record::clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::int64_t ns_between(request_record::clock::time_point a, request_record::clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

}  // namespace

void request_record::finish(const proxy_snapshot& snap, unsigned worker, access_log_buffer& log,
                            const request_message& req, const config::route* route,
                            const limiter::decision& d, std::string_view peer_text,
                            std::string_view request_id) const {
  const auto now = clock::now();
  const clock::time_point unset{};
  if (auto* m = snap.metrics()) {
    auto end = now;
    if (upgraded_at != unset) end = upgraded_at;
    else m->worker(worker).in_flight.add(-1);  // an upgraded request left the count at its 101
    auto* series = route ? snap.route_metrics(*route) : &m->unrouted();
    auto& cells = series->cells(worker);
    const auto method = req.method();
    const bool read = method == http::verb::get || method == http::verb::head ||
                      method == http::verb::options;
    cells.requests[static_cast<std::size_t>(read ? metrics::method_class::read
                                                 : metrics::method_class::write)]
                  [static_cast<std::size_t>(outcome_decisions[static_cast<int>(result)])]
                      .add();
    cells.response(status);
    cells.request_duration.observe(ns_between(start, end));
    if (upstream_start != unset) {
      const auto up_end = upstream_end == unset || upstream_end > end ? end : upstream_end;
      cells.upstream_duration.observe(ns_between(upstream_start, up_end));
    }
    if (route && (result == outcome::limited || result == outcome::shadow)) {
      for (std::size_t i = 0; i < d.verdicts.size(); ++i)
        if (!d.verdicts[i].allowed) snap.limit_metrics(*route, i).hit(worker);
    }
  }
  if (!log.enabled()) return;
  access_record r;
  r.client = client_text.empty() ? peer_text : std::string_view(client_text);
  r.method = req.method_string();
  r.path = req.target();
  r.route = route ? std::string_view(route->name) : std::string_view("-");
  r.decision = outcome_names[static_cast<int>(result)].second;
  r.request_id = request_id;
  r.status = status;
  r.upstream_ms = upstream_start == unset
                      ? -1
                      : ms_between(upstream_start, upstream_end == unset ? now : upstream_end);
  r.total_ms = ms_between(start, now);
  log.append(r);
}

}  // namespace sluice::net
