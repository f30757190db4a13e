// Metric cells summed at scrape time: exact counts over workers, cumulative buckets, stable
// series across reloads, and the text the exposition serves.

#include "metrics/proxy_metrics.hpp"

#include <doctest/doctest.h>

#include <prometheus/metric_family.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "metrics/exposition.hpp"

namespace {

using namespace sluice::metrics;
using prometheus::ClientMetric;
using prometheus::MetricFamily;

const MetricFamily& find_family(const std::vector<MetricFamily>& fs, const std::string& name) {
  const auto it = std::find_if(fs.begin(), fs.end(), [&](const auto& f) { return f.name == name; });
  REQUIRE(it != fs.end());
  return *it;
}

std::string label(const ClientMetric& m, const std::string& name) {
  for (const auto& l : m.label)
    if (l.name == name) return l.value;
  return "<none>";
}

const ClientMetric& find_series(const MetricFamily& f,
                                std::vector<std::pair<std::string, std::string>> labels) {
  const auto it = std::find_if(f.metric.begin(), f.metric.end(), [&](const ClientMetric& m) {
    return std::all_of(labels.begin(), labels.end(),
                       [&](const auto& kv) { return label(m, kv.first) == kv.second; });
  });
  REQUIRE(it != f.metric.end());
  return *it;
}

}  // namespace

TEST_CASE("request counts from several workers sum exactly, one series per label combination") {
  proxy_metrics m(3);
  auto& stats = m.route("stats");
  for (unsigned w = 0; w < 3; ++w) {
    for (unsigned i = 0; i <= w; ++i)
      stats.cells(w).requests[static_cast<int>(method_class::read)][static_cast<int>(decision::allowed)].add();
    stats.cells(w).requests[static_cast<int>(method_class::write)][static_cast<int>(decision::limited)].add(10);
  }
  const auto fs = m.Collect();
  const auto& req = find_family(fs, "sluice_requests_total");
  CHECK(find_series(req, {{"route", "stats"}, {"method_class", "read"}, {"decision", "allowed"}})
            .counter.value == 6);
  CHECK(find_series(req, {{"route", "stats"}, {"method_class", "write"}, {"decision", "limited"}})
            .counter.value == 30);
  CHECK(find_series(req, {{"route", "stats"}, {"method_class", "read"}, {"decision", "exempt"}})
            .counter.value == 0);
  // Route "-" (unreadable requests) and "stats", 2 method classes x 5 decisions each.
  CHECK(req.metric.size() == 2 * 2 * 5);
}

TEST_CASE("a route keeps its series when a reload keeps its name") {
  proxy_metrics m(1);
  auto& a = m.route("stats");
  a.cells(0).response(429);
  auto& b = m.route("stats");
  CHECK(&a == &b);
  b.cells(0).response(200);
  b.cells(0).response(0);    // not a status: not counted
  b.cells(0).response(600);  // likewise
  const auto fs = m.Collect();
  const auto& res = find_family(fs, "sluice_responses_total");
  CHECK(find_series(res, {{"route", "stats"}, {"status_class", "4xx"}}).counter.value == 1);
  CHECK(find_series(res, {{"route", "stats"}, {"status_class", "2xx"}}).counter.value == 1);
  CHECK(&m.limit("stats", "60/minute per ip") == &m.limit("stats", "60/minute per ip"));
  CHECK(&m.limit("stats", "60/minute per ip") != &m.limit("ports", "60/minute per ip"));
}

TEST_CASE("histogram buckets are cumulative over bounds and workers, edges inclusive") {
  proxy_metrics m(2);
  auto& r = m.route("r");
  r.cells(0).request_duration.observe(500'000);      // exactly 0.5 ms: in le=0.0005
  r.cells(1).request_duration.observe(500'001);      // just over: le=0.001
  r.cells(1).request_duration.observe(20'000'000'000);  // 20 s: only +Inf
  r.cells(0).request_duration.observe(-5);           // clock oddity: counted as zero
  const auto fs = m.Collect();
  const auto& h = find_series(find_family(fs, "sluice_request_duration_seconds"), {{"route", "r"}});
  REQUIRE(h.histogram.bucket.size() == latency_bounds_s.size());
  CHECK(h.histogram.bucket[0].upper_bound == doctest::Approx(0.0005));
  CHECK(h.histogram.bucket[0].cumulative_count == 2);
  CHECK(h.histogram.bucket[1].cumulative_count == 3);
  CHECK(h.histogram.bucket.back().upper_bound == 10);
  CHECK(h.histogram.bucket.back().cumulative_count == 3);
  CHECK(h.histogram.sample_count == 4);
  CHECK(h.histogram.sample_sum == doctest::Approx(20.001000001));
  for (std::size_t i = 1; i < h.histogram.bucket.size(); ++i)
    CHECK(h.histogram.bucket[i].cumulative_count >= h.histogram.bucket[i - 1].cumulative_count);
}

TEST_CASE("limit hits, gauges and live values reach their families") {
  proxy_metrics m(2);
  auto& l = m.limit("login", "30/minute per ip");
  l.hit(0);
  l.hit(1);
  l.hit(1);
  m.worker(0).in_flight.add(3);
  m.worker(1).in_flight.add(-1);
  m.worker(1).upstream_connect_errors.add();
  m.set_live_source([](live_values& v) {
    v.client_connections = 7;
    v.key_table_keys = 11;
    v.key_table_capacity = 100;
    v.key_table_evictions = 2;
    v.key_table_evictions_limited = 1;
    v.websockets_open = {{"ws", 4}};
  });
  const auto fs = m.Collect();
  CHECK(find_series(find_family(fs, "sluice_limit_hits_total"),
                    {{"route", "login"}, {"limit", "30/minute per ip"}})
            .counter.value == 3);
  CHECK(find_family(fs, "sluice_requests_in_flight").metric.at(0).gauge.value == 2);
  CHECK(find_family(fs, "sluice_client_connections").metric.at(0).gauge.value == 7);
  CHECK(find_family(fs, "sluice_key_table_evictions_limited_total").metric.at(0).counter.value == 1);
  CHECK(find_series(find_family(fs, "sluice_websocket_connections"), {{"route", "ws"}}).gauge.value ==
        4);
  CHECK(find_family(fs, "sluice_upstream_connect_errors_total").metric.at(0).counter.value == 1);
}

TEST_CASE("the exposition serves every family with HELP and TYPE, escaping label values") {
  exposition e("1.2.3");
  auto m = std::make_shared<proxy_metrics>(1);
  m->limit("r", "a \"quoted\" \\ name").hit(0);
  e.add(m);
  e.reload_failed();
  const std::string text = e.text();
  CHECK(text.find("# TYPE sluice_requests_total counter\n") != std::string::npos);
  CHECK(text.find("# HELP sluice_requests_total ") != std::string::npos);
  CHECK(text.find("# TYPE sluice_request_duration_seconds histogram\n") != std::string::npos);
  CHECK(text.find("sluice_build_info{version=\"1.2.3\"} 1\n") != std::string::npos);
  CHECK(text.find("sluice_config_reloads_total{result=\"failure\"} 1\n") != std::string::npos);
  CHECK(text.find("sluice_config_reloads_total{result=\"success\"} 0\n") != std::string::npos);
  CHECK(text.find(R"(limit="a \"quoted\" \\ name")") != std::string::npos);
  CHECK(text.find("le=\"+Inf\"") != std::string::npos);
}
