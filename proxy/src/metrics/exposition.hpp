#pragma once
// What GET /metrics serves: prometheus-cpp's own registry (build info and config reloads:
// rare events, where its locked types cost nothing) and the proxy's per-worker collectable,
// serialized together in the text format 0.0.4.

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace sluice::metrics {

/// The `reason` label of what the admin listener refused.
enum class admin_refusal {
  per_ip,           ///< admin.max_connections_per_ip reached at accept: fixed 503
  global,           ///< admin.max_connections reached at accept: fixed 503
  host,             ///< a Host not in admin.hosts: 421
  too_large,        ///< a head over 8 KiB (431) or a body over 64 KiB (413)
  malformed,        ///< not HTTP: 400
  token,            ///< a mutating call with a wrong or malformed token: 401, counted per peer
  token_throttled,  ///< a mutating call from a peer over its token failures: 429, not checked
};
inline constexpr std::size_t admin_refusal_count = 7;
inline constexpr std::array<const char*, admin_refusal_count> admin_refusal_names{
    "per_ip", "global", "host", "too_large", "malformed", "token", "token_throttled"};
static_assert(static_cast<std::size_t>(admin_refusal::token_throttled) + 1 == admin_refusal_count);

/// The scrape: thread-safe.
class exposition {
 public:
  /// Starts with build info for `version`.
  explicit exposition(const std::string& version);

  /// Adds a collectable (kept alive by the exposition).
  void add(std::shared_ptr<const prometheus::Collectable> c);

  /// Counts a config reload.
  void reload_succeeded(std::chrono::system_clock::time_point when);
  void reload_failed();
  /// Counts a connection or request the admin listener refused.
  void admin_refused(admin_refusal why);

  /// Every family, serialized (text format 0.0.4).
  std::string text() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<std::shared_ptr<const prometheus::Collectable>> collectables_;
  prometheus::Counter* reload_success_;
  prometheus::Counter* reload_failure_;
  prometheus::Gauge* last_success_;
  std::array<prometheus::Counter*, admin_refusal_count> admin_refused_{};
};

}  // namespace sluice::metrics
