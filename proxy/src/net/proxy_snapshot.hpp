#pragma once
// Everything derived from one config that the data plane reads: the config itself, its compiled
// route table, and per-route header values computed once instead of per request.

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "routing/route_table.hpp"

namespace sluice::net {

/// Immutable; requests hold a shared_ptr to the snapshot they started with.
class proxy_snapshot {
 public:
  /// Builds the derived state for `cfg`.
  explicit proxy_snapshot(std::shared_ptr<const config::config> cfg);

  /// The config.
  const config::config& cfg() const { return *cfg_; }
  /// The config, shared.
  const std::shared_ptr<const config::config>& cfg_ptr() const { return cfg_; }
  /// The compiled routes.
  const routing::route_table& routes() const { return routes_; }
  /// The RateLimit-Policy field value for `r` (empty when it has no rate limit).
  const std::string& policy_header(const config::route& r) const;
  /// The route's limit names quoted as structured-field strings, by limit index.
  const std::vector<std::string>& quoted_names(const config::route& r) const;
  /// True when `addr` is in the allowlist.
  bool allowlisted(const ip_address& addr) const;

 private:
  std::shared_ptr<const config::config> cfg_;
  routing::route_table routes_;
  std::size_t index_of(const config::route& r) const;

  std::vector<std::string> policy_headers_;  // by route index; default route last
  std::vector<std::vector<std::string>> quoted_names_;  // same order
};

}  // namespace sluice::net
