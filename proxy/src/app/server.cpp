#include "app/server.hpp"

#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <pthread.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "app/config_reloader.hpp"
#include "common/log.hpp"
#include "config/duration_parser.hpp"
#include "metrics/exposition.hpp"
#include "metrics/proxy_metrics.hpp"
#include "net/admin_api.hpp"
#include "net/admin_listener.hpp"
#include "net/listener.hpp"
#include "net/proxy_snapshot.hpp"
#include "net/shared_state.hpp"
#include "net/worker.hpp"

namespace sluice::app {
namespace {

std::string endpoint_text(const boost::asio::ip::tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

// Descriptors beyond the connections: listeners, epoll and timer descriptors per worker, the
// log, the spare kept for EMFILE, /readyz probes. Generous: running short costs clients answers.
constexpr rlim_t fixed_descriptors = 64;

// The usual soft limit of 1024 descriptors would make accept() fail long before the caps: raise
// it to the hard limit, and say so when even that is below what the caps may take. Each client
// connection may hold an upstream connection (a WebSocket always does: two descriptors), each
// worker keeps idle upstream connections, and the admin listener has connections of its own.
void raise_descriptor_limit(const config::config& cfg, unsigned workers) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  const rlim_t clients = cfg.caps.max_client_connections;
  const rlim_t websockets = std::min(cfg.caps.max_websockets, cfg.caps.max_client_connections);
  const rlim_t pooled = static_cast<rlim_t>(cfg.upstream.pool_max_idle) * workers;
  const rlim_t admin = cfg.admin.enabled ? cfg.admin.max_connections + 1 : 0;
  const rlim_t wanted = 2 * clients + pooled + admin + fixed_descriptors;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < wanted) {
    log_event(log_level::warn,
              "open-file limit " + std::to_string(lim.rlim_cur) + " is below what the caps may need (" +
                  std::to_string(wanted) + ": 2 per caps.max_client_connections (" +
                  std::to_string(clients) + "), a client and its upstream connection, as each of up "
                  "to " + std::to_string(websockets) + " WebSockets always holds; " +
                  std::to_string(pooled) + " pooled upstream connections; " + std::to_string(admin) +
                  " admin; " + std::to_string(fixed_descriptors) +
                  " more); past it new clients are answered 503 through a spare descriptor and "
                  "requests needing an upstream connection 503; raise it (ulimit -n, LimitNOFILE=) "
                  "or lower the caps");
  }
}

// The bearer token for mutating admin calls, from the environment variable the config names.
std::string admin_token(const config::config& cfg) {
  if (cfg.admin.token_env.empty()) return {};
  const char* v = std::getenv(cfg.admin.token_env.c_str());
  if (v == nullptr || *v == '\0') {
    log_event(log_level::warn, "admin.token_env names " + cfg.admin.token_env +
                                   ", which is not set: mutating admin endpoints (reload) are off");
    return {};
  }
  return v;
}

}  // namespace

int run_server(std::shared_ptr<const config::config> cfg) {
  // Signals are taken by sigwait on this thread only: block them before any worker starts, so
  // every thread inherits the mask. SIGPIPE is ignored: a vanished log reader is not fatal.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<net::shared_state> shared;
  std::vector<std::unique_ptr<net::worker>> workers;
  std::unique_ptr<net::listener> listener;
  const unsigned n = cfg->workers > 0 ? cfg->workers : std::max(1u, std::thread::hardware_concurrency());
  raise_descriptor_limit(*cfg, n);
  auto metrics = std::make_shared<metrics::proxy_metrics>(n);
  metrics::exposition exposition(SLUICE_VERSION);
  exposition.add(metrics);
  std::unique_ptr<config_reloader> reloader;
  std::unique_ptr<net::admin_api> admin;
  std::unique_ptr<net::admin_listener> admin_listener;
  try {
    shared = std::make_unique<net::shared_state>(
        std::make_shared<net::proxy_snapshot>(cfg, metrics.get()));
    metrics->set_live_source([s = shared.get()](metrics::live_values& v) {
      const auto t = s->limiter().table_stats();
      v.key_table_keys = t.size;
      v.key_table_capacity = t.capacity;
      v.key_table_evictions = t.evictions;
      v.key_table_evictions_limited = t.evictions_limited;
      v.client_connections = s->open_connections();
      v.client_connection_keys = s->connections().keys();
      v.websockets_open = s->websocket_slots().open_by_route();
    });
    reloader = std::make_unique<config_reloader>(cfg->source, *shared, *metrics, exposition);
    std::vector<net::worker*> handles;
    for (unsigned i = 0; i < n; ++i) {
      workers.push_back(std::make_unique<net::worker>(*shared, i));
      handles.push_back(workers.back().get());
    }
    const boost::asio::ip::tcp::endpoint address(boost::asio::ip::make_address(cfg->listen.host),
                                                 cfg->listen.port);
    listener = std::make_unique<net::listener>(address, std::move(handles));
    if (cfg->admin.enabled) {
      admin = std::make_unique<net::admin_api>(
          *shared, exposition, [r = reloader.get()] { return r->reload(); }, admin_token(*cfg));
      const boost::asio::ip::tcp::endpoint admin_address(
          boost::asio::ip::make_address(cfg->admin.listen.host), cfg->admin.listen.port);
      try {
        admin_listener = std::make_unique<net::admin_listener>(admin_address, cfg->admin.allow,
                                                                *admin, *shared, exposition);
      } catch (const boost::system::system_error& e) {
        log_event(log_level::error, "cannot listen on admin.listen " + cfg->admin.listen.host + ":" +
                                        std::to_string(cfg->admin.listen.port) + ": " +
                                        e.code().message());
        return 1;
      }
      log_event(log_level::info, "admin listening on " +
                                     endpoint_text(admin_listener->local_endpoint()));
    }
    log_event(log_level::info, "sluice " SLUICE_VERSION " listening on " +
                                   endpoint_text(listener->local_endpoint()) +
                                   " workers=" + std::to_string(n) + " upstream=" +
                                   cfg->upstream.address.host + ":" +
                                   std::to_string(cfg->upstream.address.port) + " config=" +
                                   cfg->source);
  } catch (const boost::system::system_error& e) {
    log_event(log_level::error, "cannot listen on " + cfg->listen.host + ":" +
                                    std::to_string(cfg->listen.port) + ": " + e.code().message() +
                                    (e.code() == boost::asio::error::address_in_use
                                         ? " (is another sluice already running there?)"
                                         : ""));
    return 1;
  } catch (const std::exception& e) {
    log_event(log_level::error, std::string("cannot start: ") + e.what());
    return 1;
  }
  listener->start();
  for (auto& w : workers) w->start();
  if (admin_listener) admin_listener->start();

  int sig = 0;
  for (;;) {
    sigwait(&stop_signals, &sig);
    if (sig != SIGHUP) break;
    reloader->reload();
  }
  // Read now, so a reload can change it; the workers all get the same.
  const auto drain = shared->snapshot()->cfg().timeouts.drain;
  log_event(log_level::info, std::string("stopping on ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                                 ": finishing requests in progress (timeouts.drain " +
                                 config::format_duration(drain) + ")");
  listener->stop();
  if (admin_listener) admin_listener->stop();
  for (auto& w : workers) w->stop(drain);
  net::worker::cut_counts cut;
  for (auto& w : workers) {
    w->join();
    cut.requests += w->cut().requests;
    cut.websockets += w->cut().websockets;
  }
  if (cut.requests > 0 || cut.websockets > 0) {
    // The exit stays 0: the stop was asked for and done. This line says what it cost.
    log_event(log_level::warn, "drain ended after timeouts.drain " + config::format_duration(drain) +
                                   ": cut " + std::to_string(cut.requests) + " requests and " +
                                   std::to_string(cut.websockets) +
                                   " WebSockets still in progress");
    log_event(log_level::info, "stopped (cut " + std::to_string(cut.requests) + " requests, " +
                                   std::to_string(cut.websockets) + " WebSockets)");
  } else {
    log_event(log_level::info, "stopped (drained: nothing in progress was cut)");
  }
  return 0;
}

}  // namespace sluice::app
