#include "app/config_reloader.hpp"

#include <chrono>

#include "common/log.hpp"
#include "config/config_error.hpp"
#include "config/config_loader.hpp"
#include "net/proxy_snapshot.hpp"

namespace sluice::app {
namespace {

std::string text(const config::endpoint& e) { return e.host + ":" + std::to_string(e.port); }

std::string cidrs(const std::vector<cidr>& list) {
  std::string out = "[";
  for (const auto& c : list) out += (out.size() > 1 ? ", " : "") + c.to_string();
  return out + "]";
}

// What the running process fixed at start: sockets, threads, the key table's size, the log
// sink and the admin side. A change there is refused rather than half applied.
std::string restart_only_change(const config::config& now, const config::config& next) {
  auto changed = [](const std::string& key, const std::string& from, const std::string& to) {
    return key + ": changed from " + from + " to " + to + "; only a restart applies it";
  };
  if (!(now.listen == next.listen)) return changed("listen", text(now.listen), text(next.listen));
  if (now.workers != next.workers)
    return changed("workers", std::to_string(now.workers), std::to_string(next.workers));
  if (now.key_table.max_keys != next.key_table.max_keys)
    return changed("key_table.max_keys", std::to_string(now.key_table.max_keys),
                   std::to_string(next.key_table.max_keys));
  if (now.access_log != next.access_log)
    return changed("access_log", now.access_log, next.access_log);
  if (now.admin.enabled != next.admin.enabled)
    return changed("admin.enabled", now.admin.enabled ? "true" : "false",
                   next.admin.enabled ? "true" : "false");
  if (!(now.admin.listen == next.admin.listen))
    return changed("admin.listen", text(now.admin.listen), text(next.admin.listen));
  if (cidrs(now.admin.allow) != cidrs(next.admin.allow))
    return changed("admin.allow", cidrs(now.admin.allow), cidrs(next.admin.allow));
  if (now.admin.token_env != next.admin.token_env)
    return changed("admin.token_env", "\"" + now.admin.token_env + "\"",
                   "\"" + next.admin.token_env + "\"");
  return {};
}

}  // namespace

config_reloader::config_reloader(std::string path, net::shared_state& shared,
                                 metrics::proxy_metrics& metrics, metrics::exposition& exposition)
    : path_(std::move(path)), shared_(shared), metrics_(metrics), exposition_(exposition) {}

net::reload_result config_reloader::reload() {
  std::lock_guard lock(mu_);
  net::reload_result r;
  std::shared_ptr<const config::config> next;
  try {
    next = config::load_file(path_);
  } catch (const config::config_error& e) {
    r.message = e.what();
  }
  if (next) {
    // Only reloads change the snapshot, and they hold mu_: `running` stays the running one.
    const auto running = shared_.snapshot();
    r.message = restart_only_change(running->cfg(), *next);
    if (r.message.empty()) {
      // Built first, so that between the rebase and the swap there is nothing but the two.
      auto snap = std::make_shared<net::proxy_snapshot>(next, &metrics_);
      // The limiter's state is reinterpreted for the new limits, then the new config goes in.
      // A request that decides between the two still holds the old snapshot (it took it one
      // synchronous step before deciding, downstream_session) while its key, shard by shard,
      // may already be rebased. It then judges that key by its old definition on the rebased
      // state: a sliding window the same admission times under the old count and period; a
      // token bucket the rescaled arrival time with the old interval; across an algorithm
      // change its own algorithm's state as it was at the reload, since a conversion leaves
      // those fields alone (limiter/rebase), and its admission is then recorded there only, so
      // the new definition misses at most that one. No reading sees an emptied state, so none
      // hands out a fresh quota. The window lasts one pass over the key table (only when some
      // limit's rate, algorithm or burst changed). The other order, swap then rebase, would let
      // new-config requests read state not yet converted, which for a change of algorithm is a
      // bucket read from a window's timestamps: a fresh quota.
      const auto rebased = shared_.limiter().rebase(running->cfg(), *next,
                                                    limiter::steady_clock_source::now());
      shared_.swap_snapshot(std::move(snap));
      r.ok = true;
      r.message = "config reloaded from " + path_ + ": " + std::to_string(next->routes.size() + 1) +
                  " routes";
      if (rebased > 0)
        r.message += ", " + std::to_string(rebased) +
                     " limiter keys rebased (changed or removed limits)";
    } else {
      r.message = path_ + ": " + r.message;
    }
  }
  if (r.ok) {
    exposition_.reload_succeeded(std::chrono::system_clock::now());
    log_event(log_level::info, r.message);
  } else {
    exposition_.reload_failed();
    log_event(log_level::error, "config reload refused, the running config stays: " + r.message);
  }
  return r;
}

}  // namespace sluice::app
