#pragma once
// Everything derived from one config that the data plane reads: the config itself, its compiled
// route table, and per-route header values computed once instead of per request.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "metrics/proxy_metrics.hpp"
#include "routing/route_table.hpp"

namespace sluice::net {

/// Immutable; requests hold a shared_ptr to the snapshot they started with.
class proxy_snapshot {
 public:
  /// Builds the derived state for `cfg`; with `metrics` (and cfg.metrics.enabled), each route
  /// and limit is bound to its series, created there on first use.
  explicit proxy_snapshot(std::shared_ptr<const config::config> cfg,
                          metrics::proxy_metrics* metrics = nullptr);

  /// The config.
  const config::config& cfg() const { return *cfg_; }
  /// The config, shared.
  const std::shared_ptr<const config::config>& cfg_ptr() const { return cfg_; }
  /// The compiled routes.
  const routing::route_table& routes() const { return routes_; }
  /// The RateLimit-Policy field value for `r` (empty when it has no rate limit).
  const std::string& policy_header(const config::route& r) const;
  /// "RateLimit-Policy: <policy>\r\nRateLimit: " for `r`, the start of its per-response fields
  /// (empty when it has no rate limit).
  const std::string& policy_lines(const config::route& r) const {
    return policy_lines_[index_of(r)];
  }
  /// The route's limit names quoted as structured-field strings, by limit index.
  const std::vector<std::string>& quoted_names(const config::route& r) const;
  /// The route's series, or null when metrics are off.
  metrics::route_series* route_metrics(const config::route& r) const {
    return route_metrics_.empty() ? nullptr : route_metrics_[index_of(r)];
  }
  /// The series of the route's limit `i` (metrics on only).
  metrics::limit_series& limit_metrics(const config::route& r, std::size_t i) const {
    return *limit_metrics_[index_of(r)][i];
  }
  /// For a route whose websocket block has messages_per_ip: a route holding just that limit
  /// (a token bucket per client key, burst = the rate's count), for the limiter. Else null.
  const config::route* message_route(const config::route& r) const {
    const auto& m = message_routes_[index_of(r)];
    return m ? &*m : nullptr;
  }
  /// Route-independent cells, or null when metrics are off.
  metrics::proxy_metrics* metrics() const { return metrics_; }
  /// Bit n set when client_ip.strip_headers has a name of n characters (names of 64 or more
  /// are always looked up).
  std::uint64_t strip_header_lengths() const { return strip_header_lengths_; }
  /// True when `addr` is in the allowlist.
  bool allowlisted(const ip_address& addr) const;

 private:
  std::shared_ptr<const config::config> cfg_;
  routing::route_table routes_;
  std::size_t index_of(const config::route& r) const {
    if (&r == &cfg_->default_route) return cfg_->routes.size();
    return static_cast<std::size_t>(&r - cfg_->routes.data());
  }

  std::vector<std::string> policy_headers_;  // by route index; default route last
  std::vector<std::string> policy_lines_;    // same order
  std::vector<std::vector<std::string>> quoted_names_;  // same order
  std::vector<std::optional<config::route>> message_routes_;  // same order
  metrics::proxy_metrics* metrics_ = nullptr;
  std::uint64_t strip_header_lengths_ = 0;
  std::vector<metrics::route_series*> route_metrics_;   // same order; empty: metrics off
  std::vector<std::vector<metrics::limit_series*>> limit_metrics_;
};

}  // namespace sluice::net
