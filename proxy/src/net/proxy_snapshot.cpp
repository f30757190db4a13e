#include "net/proxy_snapshot.hpp"

#include "net/rate_limit_headers.hpp"

namespace sluice::net {

proxy_snapshot::proxy_snapshot(std::shared_ptr<const config::config> cfg)
    : cfg_(std::move(cfg)), routes_(*cfg_) {
  for (const auto& r : cfg_->routes) {
    policy_headers_.push_back(policy_field(r));
    quoted_names_.push_back(quoted_limit_names(r));
  }
  policy_headers_.push_back(policy_field(cfg_->default_route));
  quoted_names_.push_back(quoted_limit_names(cfg_->default_route));
}

std::size_t proxy_snapshot::index_of(const config::route& r) const {
  if (&r == &cfg_->default_route) return cfg_->routes.size();
  return static_cast<std::size_t>(&r - cfg_->routes.data());
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
