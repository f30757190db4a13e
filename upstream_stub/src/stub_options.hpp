// Command line of upstream-stub.
#pragma once

#include "router.hpp"

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::stub {

/// A command line the stub cannot run with; main prints it and exits 2.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What the command line asked for.
struct stub_options {
  /// What to do besides serving.
  enum class action { serve, help, version };

  /// serve, or print help or version and exit 0.
  action what = action::serve;
  /// Address to listen on, numeric ("127.0.0.1", "::1") or "localhost".
  std::string listen_host;
  /// Port to listen on; 0 lets the kernel pick one (printed in the "listening on" line).
  unsigned short listen_port = 0;
  /// CPU sampling window of each /api/system/stats request; 0 answers at once with usage 0.
  std::chrono::duration<double> stats_interval{0.1};
  /// Push period of the stats messages on the WebSocket endpoints; 0 turns them off (echo only).
  std::chrono::duration<double> ws_interval{1.0};
  /// Accept a client's permessage-deflate offer on the WebSocket endpoints.
  bool ws_deflate = false;
  /// Threads running the io_context.
  unsigned threads = 1;
  /// How routes read a request's path and method: exact (the seed's server) or loose.
  routing_mode routing = routing_mode::exact;

  /// Parses argv (without the program name); throws usage_error.
  static stub_options parse(const std::vector<std::string>& args);
  /// The --help text.
  static std::string usage();
};

}  // namespace sluice::stub
