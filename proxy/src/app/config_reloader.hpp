#pragma once
// Reloads the config file into a running proxy (SIGHUP or the admin POST /reload). A config
// that fails to load, or that changes what only a restart can change, is refused whole: the
// running config keeps serving, and the reason is logged and returned.

#include <memory>
#include <mutex>
#include <string>

#include "metrics/exposition.hpp"
#include "metrics/proxy_metrics.hpp"
#include "net/admin_api.hpp"
#include "net/shared_state.hpp"

namespace sluice::app {

/// Thread-safe; one reload at a time.
class config_reloader {
 public:
  config_reloader(std::string path, net::shared_state& shared, metrics::proxy_metrics& metrics,
                  metrics::exposition& exposition);

  /// Loads the file again and, if it is valid and reloadable, makes it the running config.
  net::reload_result reload();

 private:
  std::mutex mu_;
  std::string path_;
  net::shared_state& shared_;
  metrics::proxy_metrics& metrics_;
  metrics::exposition& exposition_;
};

}  // namespace sluice::app
