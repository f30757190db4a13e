#include "app/server.hpp"

#include <sys/resource.h>

#include <csignal>
#include <pthread.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "common/log.hpp"
#include "net/listener.hpp"
#include "net/proxy_snapshot.hpp"
#include "net/shared_state.hpp"
#include "net/worker.hpp"

namespace sluice::app {
namespace {

// How long requests in progress get to finish once a stop signal arrives.
constexpr auto shutdown_drain = std::chrono::seconds(10);

std::string endpoint_text(const boost::asio::ip::tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

// Each client connection may hold an upstream connection too. The usual soft limit of 1024
// descriptors would make accept() fail long before max_client_connections; raise it to the hard
// limit, and say so when even that is too low.
void raise_descriptor_limit(std::uint32_t max_clients) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  // Clients alone, plus room for listeners, logs and a few upstream connections: below that
  // accept() is sure to fail before the cap. (Each busy client may hold an upstream connection
  // too; docs/configuration.md says so.)
  const rlim_t wanted = static_cast<rlim_t>(max_clients) + 256;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < wanted) {
    log_event(log_level::warn, "open-file limit " + std::to_string(lim.rlim_cur) +
                                   " is below what caps.max_client_connections=" +
                                   std::to_string(max_clients) + " may need (" +
                                   std::to_string(wanted) + "); raise it (ulimit -n)");
  }
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
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  raise_descriptor_limit(cfg->caps.max_client_connections);
  std::unique_ptr<net::shared_state> shared;
  std::vector<std::unique_ptr<net::worker>> workers;
  std::unique_ptr<net::listener> listener;
  try {
    shared = std::make_unique<net::shared_state>(std::make_shared<net::proxy_snapshot>(cfg));
    const unsigned n = cfg->workers > 0 ? cfg->workers : std::max(1u, std::thread::hardware_concurrency());
    std::vector<net::worker*> handles;
    for (unsigned i = 0; i < n; ++i) {
      workers.push_back(std::make_unique<net::worker>(*shared));
      handles.push_back(workers.back().get());
    }
    const boost::asio::ip::tcp::endpoint address(boost::asio::ip::make_address(cfg->listen.host),
                                                 cfg->listen.port);
    listener = std::make_unique<net::listener>(address, std::move(handles));
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

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log_event(log_level::info, std::string("stopping on ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                                 ": finishing requests in progress");
  listener->stop();
  for (auto& w : workers) w->stop(shutdown_drain);
  for (auto& w : workers) w->join();
  log_event(log_level::info, "stopped");
  return 0;
}

}  // namespace sluice::app
