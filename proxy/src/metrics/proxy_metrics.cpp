#include "metrics/proxy_metrics.hpp"

#include <prometheus/metric_family.h>

namespace sluice::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr std::array<const char*, 5> status_class_names{"1xx", "2xx", "3xx", "4xx", "5xx"};

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric counter(std::vector<ClientMetric::Label> labels, std::uint64_t value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = static_cast<double>(value);
  return m;
}

ClientMetric gauge(std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  return m;
}

// One counter's total over a route's workers: `cell(cells)` picks it from each worker's cells.
template <class Pick>
std::uint64_t sum_workers(const route_series& r, Pick cell) {
  std::uint64_t sum = 0;
  for (unsigned w = 0; w < r.workers(); ++w) sum += cell(r.cells(w)).value();
  return sum;
}

}  // namespace

std::uint64_t limit_series::total() const {
  std::uint64_t sum = 0;
  for (unsigned w = 0; w < workers_; ++w) sum += hits_[w].cell.value();
  return sum;
}

proxy_metrics::proxy_metrics(unsigned workers)
    : workers_(workers), workers_cells_(new worker_cells[workers]) {
  unrouted_ = &routes_.emplace_back("-", workers_);
}

route_series& proxy_metrics::route(std::string_view name) {
  std::lock_guard lock(mu_);
  if (const auto it = route_index_.find(name); it != route_index_.end()) return *it->second;
  route_series& s = routes_.emplace_back(std::string(name), workers_);
  route_index_.emplace(std::string(name), &s);
  return s;
}

limit_series& proxy_metrics::limit(std::string_view route, std::string_view limit) {
  std::lock_guard lock(mu_);
  auto key = std::make_pair(std::string(route), std::string(limit));
  if (const auto it = limit_index_.find(key); it != limit_index_.end()) return *it->second;
  limit_series& s = limits_.emplace_back(key.first, key.second, workers_);
  limit_index_.emplace(std::move(key), &s);
  return s;
}

void proxy_metrics::set_live_source(std::function<void(live_values&)> source) {
  std::lock_guard lock(mu_);
  live_source_ = std::move(source);
}

std::vector<MetricFamily> proxy_metrics::Collect() const {
  std::lock_guard lock(mu_);
  auto requests = family("sluice_requests_total",
                         "Requests by route, method class (read: GET, HEAD, OPTIONS; write: the "
                         "rest) and decision.",
                         MetricType::Counter);
  auto responses = family("sluice_responses_total",
                          "Responses sent to clients by route and status class (429s included; "
                          "499: the client left first, counted as 4xx).",
                          MetricType::Counter);
  auto hits = family("sluice_limit_hits_total",
                     "Requests refused by each limit (a request refused by two limits counts for "
                     "both).",
                     MetricType::Counter);
  auto duration = family("sluice_request_duration_seconds",
                         "Time from the end of the request head to the end of the response (for "
                         "a WebSocket, to its 101), by route.",
                         MetricType::Histogram);
  auto upstream = family("sluice_upstream_duration_seconds",
                         "Time from taking an upstream connection to the end of the upstream "
                         "response, by route (forwarded requests only).",
                         MetricType::Histogram);
  auto ws_refused = family("sluice_websocket_refused_total",
                           "WebSocket handshakes refused by a connection cap, by route and cap.",
                           MetricType::Counter);

  for (const auto& r : routes_) {
    const std::vector<ClientMetric::Label> route_label{{"route", r.name()}};
    for (std::size_t m = 0; m < method_class_count; ++m) {
      for (std::size_t d = 0; d < decision_count; ++d) {
        requests.metric.push_back(
            counter({{"decision", decision_names[d]},
                     {"method_class", method_class_names[m]},
                     {"route", r.name()}},
                    sum_workers(r, [&](const route_cells& c) -> auto& { return c.requests[m][d]; })));
      }
    }
    for (std::size_t s = 0; s < status_class_names.size(); ++s) {
      responses.metric.push_back(
          counter({{"route", r.name()}, {"status_class", status_class_names[s]}},
                  sum_workers(r, [&](const route_cells& c) -> auto& { return c.responses[s]; })));
    }
    ClientMetric d, u;
    d.label = route_label;
    u.label = route_label;
    latency_histogram::init(d);
    latency_histogram::init(u);
    for (unsigned w = 0; w < workers_; ++w) {
      r.cells(w).request_duration.add_to(d);
      r.cells(w).upstream_duration.add_to(u);
    }
    duration.metric.push_back(std::move(d));
    upstream.metric.push_back(std::move(u));
    if (&r == unrouted_) continue;  // no handshake gets this far without a route
    for (std::size_t k = 0; k < websocket_refusal_count; ++k) {
      ws_refused.metric.push_back(counter(
          {{"reason", websocket_refusal_names[k]}, {"route", r.name()}},
          sum_workers(r, [&](const route_cells& c) -> auto& { return c.websocket_refused[k]; })));
    }
  }
  for (const auto& l : limits_)
    hits.metric.push_back(counter({{"limit", l.limit()}, {"route", l.route()}}, l.total()));

  std::int64_t in_flight = 0;
  std::uint64_t connect_errors = 0, timeouts = 0;
  std::array<std::uint64_t, connection_refusal_count> refused{};
  for (unsigned w = 0; w < workers_; ++w) {
    in_flight += workers_cells_[w].in_flight.value();
    connect_errors += workers_cells_[w].upstream_connect_errors.value();
    timeouts += workers_cells_[w].upstream_timeouts.value();
    for (std::size_t k = 0; k < connection_refusal_count; ++k)
      refused[k] += workers_cells_[w].connections_refused[k].value();
  }

  live_values live;
  if (live_source_) live_source_(live);

  std::vector<MetricFamily> out;
  out.push_back(std::move(requests));
  out.push_back(std::move(responses));
  out.push_back(std::move(hits));
  out.push_back(std::move(duration));
  out.push_back(std::move(upstream));

  auto in_flight_f = family("sluice_requests_in_flight",
                            "Requests being handled now (read to written).", MetricType::Gauge);
  in_flight_f.metric.push_back(gauge({}, static_cast<double>(in_flight)));
  out.push_back(std::move(in_flight_f));

  auto conns = family("sluice_client_connections", "Client connections open now.",
                      MetricType::Gauge);
  conns.metric.push_back(gauge({}, static_cast<double>(live.client_connections)));
  out.push_back(std::move(conns));
  auto conn_keys = family("sluice_client_connection_keys",
                          "Client keys (peer address, IPv6 by client_ip.ipv6_prefix; trusted "
                          "proxies not counted) with a connection open now: the entries "
                          "caps.max_connections_per_ip is judged on.",
                          MetricType::Gauge);
  conn_keys.metric.push_back(gauge({}, static_cast<double>(live.client_connection_keys)));
  out.push_back(std::move(conn_keys));

  auto refused_f = family("sluice_connections_refused_total",
                          "Client connections refused for capacity, by reason (per_ip, global: "
                          "at accept, a fixed 503 and nothing read; reserve: a request that was "
                          "neither exempt nor allowlisted on a connection taken from the reserve; "
                          "descriptors: out of file descriptors at accept).",
                          MetricType::Counter);
  for (std::size_t k = 0; k < connection_refusal_count; ++k)
    refused_f.metric.push_back(counter({{"reason", connection_refusal_names[k]}}, refused[k]));
  out.push_back(std::move(refused_f));

  auto ws_open = family("sluice_websocket_connections", "WebSockets open now, by route.",
                        MetricType::Gauge);
  for (const auto& [route, n] : live.websockets_open)
    ws_open.metric.push_back(gauge({{"route", route}}, static_cast<double>(n)));
  out.push_back(std::move(ws_open));
  out.push_back(std::move(ws_refused));

  auto keys = family("sluice_key_table_keys", "Keys the limiter tracks now, all limits together.",
                     MetricType::Gauge);
  keys.metric.push_back(gauge({}, static_cast<double>(live.key_table_keys)));
  out.push_back(std::move(keys));
  auto capacity = family("sluice_key_table_capacity", "The key table's bound (key_table.max_keys).",
                         MetricType::Gauge);
  capacity.metric.push_back(gauge({}, static_cast<double>(live.key_table_capacity)));
  out.push_back(std::move(capacity));
  auto evictions = family("sluice_key_table_evictions_total",
                          "Keys evicted while they still held state (the table was full of live "
                          "keys: max_keys is too small for the traffic).",
                          MetricType::Counter);
  evictions.metric.push_back(counter({}, live.key_table_evictions));
  out.push_back(std::move(evictions));
  auto evictions_limited = family(
      "sluice_key_table_evictions_limited_total",
      "Evicted keys whose last rate check was a refusal: each handed a refused client a fresh "
      "quota.",
      MetricType::Counter);
  evictions_limited.metric.push_back(counter({}, live.key_table_evictions_limited));
  out.push_back(std::move(evictions_limited));

  auto connect_f = family("sluice_upstream_connect_errors_total",
                          "Upstream connections that could not be made (refused, unreachable, "
                          "connect_timeout).",
                          MetricType::Counter);
  connect_f.metric.push_back(counter({}, connect_errors));
  out.push_back(std::move(connect_f));
  auto timeouts_f = family("sluice_upstream_timeouts_total",
                           "Upstream responses that did not arrive within response_timeout.",
                           MetricType::Counter);
  timeouts_f.metric.push_back(counter({}, timeouts));
  out.push_back(std::move(timeouts_f));
  return out;
}

}  // namespace sluice::metrics
