#pragma once
// The proxy's lifecycle: workers, listeners, signals, shutdown.

#include <memory>

#include "config/config.hpp"

namespace sluice::app {

/// Runs the proxy with `cfg` until SIGINT/SIGTERM; returns the process exit code.
int run_server(std::shared_ptr<const config::config> cfg);

}  // namespace sluice::app
