#include "net/proxy_snapshot.hpp"

#include "config/message_limit.hpp"
#include "net/rate_limit_headers.hpp"

namespace sluice::net {

proxy_snapshot::proxy_snapshot(std::shared_ptr<const config::config> cfg,
                               metrics::proxy_metrics* metrics)
    : cfg_(std::move(cfg)), routes_(*cfg_) {
  if (cfg_->metrics.enabled) metrics_ = metrics;
  for (const auto& n : cfg_->client_ip.strip_headers)
    strip_header_lengths_ |= n.size() < 64 ? std::uint64_t{1} << n.size() : ~std::uint64_t{0};
  auto add = [this](const config::route& r) {
    policy_headers_.push_back(policy_field(r));
    policy_lines_.push_back(policy_headers_.back().empty()
                                ? std::string()
                                : "RateLimit-Policy: " + policy_headers_.back() + "\r\nRateLimit: ");
    quoted_names_.push_back(quoted_limit_names(r));
    auto& messages = message_routes_.emplace_back();
    if (r.websocket) {
      if (auto l = config::message_limit(*r.websocket)) {
        messages.emplace();
        messages->name = r.name;
        messages->limits.push_back(std::move(*l));
      }
    }
    if (metrics_ == nullptr) return;
    route_metrics_.push_back(&metrics_->route(r.name));
    auto& limits = limit_metrics_.emplace_back();
    for (const auto& l : r.limits) limits.push_back(&metrics_->limit(r.name, l.name));
  };
  for (const auto& r : cfg_->routes) add(r);
  add(cfg_->default_route);
}

const std::string& proxy_snapshot::policy_header(const config::route& r) const {
  return policy_headers_[index_of(r)];
}

const std::vector<std::string>& proxy_snapshot::quoted_names(const config::route& r) const {
  return quoted_names_[index_of(r)];
}

bool proxy_snapshot::allowlisted(const ip_address& addr) const {
  for (const auto& c : cfg_->allowlist)
    if (c.contains(addr)) return true;
  return false;
}

}  // namespace sluice::net
