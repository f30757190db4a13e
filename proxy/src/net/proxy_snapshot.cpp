#include "net/proxy_snapshot.hpp"

#include "net/rate_limit_headers.hpp"

namespace sluice::net {

proxy_snapshot::proxy_snapshot(std::shared_ptr<const config::config> cfg)
    : cfg_(std::move(cfg)), routes_(*cfg_) {
  policy_headers_.reserve(cfg_->routes.size() + 1);
  for (const auto& r : cfg_->routes) policy_headers_.push_back(policy_field(r));
  policy_headers_.push_back(policy_field(cfg_->default_route));
}

const std::string& proxy_snapshot::policy_header(const config::route& r) const {
  if (&r == &cfg_->default_route) return policy_headers_.back();
  return policy_headers_[static_cast<std::size_t>(&r - cfg_->routes.data())];
}

bool proxy_snapshot::allowlisted(const ip_address& addr) const {
  for (const auto& c : cfg_->allowlist)
    if (c.contains(addr)) return true;
  return false;
}

}  // namespace sluice::net
