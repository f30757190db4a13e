// upstream-stub: the fake backend that sluice protects in tests and `make run`. It plays the seed's
// Python API (health, system stats sampled per request, ports, services, auth, background jobs,
// WebSockets that push stats and echo) over HTTP/1.1 and adds a few test aids (headers mirror,
// streaming echo, download, delay, WebSocket counts).
#include "auth_api.hpp"
#include "event_log.hpp"
#include "issued_tokens.hpp"
#include "job_queue.hpp"
#include "jobs_api.hpp"
#include "listener.hpp"
#include "router.hpp"
#include "stats_sampler.hpp"
#include "stub_counters.hpp"
#include "stub_options.hpp"
#include "system_api.hpp"
#include "test_aids_api.hpp"
#include "user_store.hpp"
#include "websocket_api.hpp"

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace {

using namespace sluice::stub;

/// Tests open hundreds of connections; the default soft limit of 1024 descriptors is too tight.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

std::string endpoint_text(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

int run(const stub_options& options) {
  boost::system::error_code address_error;
  const auto address = options.listen_host == "localhost"
                           ? net::ip::make_address("127.0.0.1")
                           : net::ip::make_address(options.listen_host, address_error);
  if (address_error) {
    std::fprintf(stderr, "upstream-stub: --listen: \"%s\" is not an IP address or localhost\n",
                 options.listen_host.c_str());
    return 2;
  }

  // Declaration order is destruction order in reverse. Stopping the io_context leaves session
  // coroutines suspended; the io_context's destructor destroys them, and their destructors
  // still touch `counters`, so it (and the route table) must be declared before `io`.
  stub_counters counters;
  router routes(options.routing);
  net::io_context io(static_cast<int>(options.threads));

  const stats_sampler sampler(options.stats_interval);
  user_store users;
  issued_tokens tokens;
  job_queue jobs(io);
  system_api system_endpoints(counters, sampler, jobs);
  auth_api auth_endpoints(users, tokens);
  jobs_api jobs_endpoints(jobs);
  websocket_api websocket_endpoints(counters, sampler, tokens,
                                    websocket_settings{options.ws_interval, options.ws_deflate});
  test_aids_api test_aids;
  system_endpoints.add_routes(routes);
  auth_endpoints.add_routes(routes);
  jobs_endpoints.add_routes(routes);
  websocket_endpoints.add_routes(routes);
  test_aids.add_routes(routes);

  std::optional<listener> server;
  try {
    server.emplace(io, tcp::endpoint(address, options.listen_port), routes, counters);
  } catch (const boost::system::system_error& e) {
    event_log::write("cannot listen on " +
                     endpoint_text(tcp::endpoint(address, options.listen_port)) + ": " +
                     e.code().message());
    return 1;
  }
  // Tests wait for this exact line to learn the port; it is printed once, after bind.
  char settings[128];
  std::snprintf(settings, sizeof settings,
                " (threads %u, stats interval %g s, ws interval %g s%s, routing %s)", options.threads,
                options.stats_interval.count(), options.ws_interval.count(),
                options.ws_deflate ? ", ws deflate" : "",
                options.routing == routing_mode::loose ? "loose" : "exact");
  event_log::write("listening on " + endpoint_text(server->local_endpoint()) + settings);

  jobs.start();
  net::co_spawn(io, server->run(), [](std::exception_ptr failure) {
    if (!failure) {
      return;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      event_log::write(std::string("listener failed: ") + e.what());
    }
  });

  net::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](const boost::system::error_code& ec, int signal_number) {
    if (ec) {
      return;
    }
    // Requests in flight are dropped: a test fixture has no clients worth draining.
    event_log::write("stopping on signal " + std::to_string(signal_number));
    io.stop();
  });

  std::vector<std::thread> workers;
  workers.reserve(options.threads - 1);
  for (unsigned i = 1; i < options.threads; ++i) {
    workers.emplace_back([&io] { io.run(); });
  }
  io.run();
  for (auto& worker : workers) {
    worker.join();
  }
  event_log::write("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  stub_options options;
  try {
    options = stub_options::parse(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const usage_error& e) {
    std::fprintf(stderr, "upstream-stub: %s\nTry 'upstream-stub --help'.\n", e.what());
    return 2;
  }
  switch (options.what) {
    case stub_options::action::help:
      std::fputs(stub_options::usage().c_str(), stdout);
      return 0;
    case stub_options::action::version:
      std::puts("upstream-stub " SLUICE_VERSION);
      return 0;
    case stub_options::action::serve:
      break;
  }
  raise_descriptor_limit();
  try {
    return run(options);
  } catch (const std::exception& e) {
    event_log::write(std::string("fatal: ") + e.what());
    return 1;
  }
}
