// sluice: a rate-limiting reverse proxy. It sits in front of one HTTP backend, decides from the
// request line and headers whether each client may go on, and forwards or answers 429 itself.
//
//   sluice --config PATH     run the proxy
//   sluice check PATH        validate a config and print its routes, one line each
//   sluice --version | --help

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "app/server.hpp"
#include "config/config_error.hpp"
#include "config/config_loader.hpp"
#include "config/config_summary.hpp"

namespace {

constexpr const char* usage_text =
    "usage: sluice --config PATH      run the proxy with the config at PATH\n"
    "       sluice check PATH         validate a config, print each route with its limits\n"
    "                                 (also: sluice check --config PATH)\n"
    "       sluice --version          print the version\n"
    "       sluice --help             print this help\n";

int check(const std::string& path) {
  try {
    const auto cfg = sluice::config::load_file(path);
    std::cout << path << ": ok, " << cfg->routes.size() + 1 << " routes\n";
    for (const auto& r : cfg->routes) std::cout << sluice::config::summarize(r) << '\n';
    std::cout << sluice::config::summarize(cfg->default_route) << '\n';
    return 0;
  } catch (const sluice::config::config_error& e) {
    std::cerr << e.what() << '\n';
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string arg1 = argc > 1 ? argv[1] : "";
  if (argc == 2 && (arg1 == "--help" || arg1 == "-h")) {
    std::cout << usage_text;
    return 0;
  }
  if (argc == 2 && arg1 == "--version") {
    std::cout << "sluice " << SLUICE_VERSION << '\n';
    return 0;
  }
  if (argc == 3 && arg1 == "check") return check(argv[2]);
  if (argc == 4 && arg1 == "check" && std::string(argv[2]) == "--config") return check(argv[3]);
  std::string config_path;
  if (argc == 3 && arg1 == "--config") config_path = argv[2];
  if (argc == 2 && arg1.starts_with("--config=")) config_path = arg1.substr(9);
  if (config_path.empty()) {
    std::cerr << "sluice: expected --config PATH, check PATH, --version or --help\n" << usage_text;
    return 2;
  }
  std::shared_ptr<const sluice::config::config> cfg;
  try {
    cfg = sluice::config::load_file(config_path);
  } catch (const sluice::config::config_error& e) {
    std::cerr << "sluice: config not loaded: " << e.what() << '\n';
    return 1;
  }
  return sluice::app::run_server(std::move(cfg));
}
