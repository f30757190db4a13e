// sluice: a rate-limiting reverse proxy. It sits in front of one HTTP backend, decides from the
// request line and headers whether each client may go on, and forwards or answers 429 itself.
//
//   sluice --config PATH     run the proxy
//   sluice check PATH        validate a config and print its routes, one line each
//   sluice check PATH --request "METHOD TARGET" [--ip IP] [--header "Name: value"]...
//                            and how the proxy would judge that request
//   sluice --version | --help

#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>
#include <string>

#include "app/server.hpp"
#include "config/config_error.hpp"
#include "config/config_loader.hpp"
#include "config/config_summary.hpp"
#include "routing/admission.hpp"
#include "routing/route_table.hpp"

namespace {

constexpr const char* usage_text =
    "usage: sluice --config PATH      run the proxy with the config at PATH\n"
    "       sluice check PATH         validate a config, print each route with its limits\n"
    "                                 (also: sluice check --config PATH)\n"
    "       sluice check PATH --request \"METHOD TARGET\" [--ip IP] [--header \"Name: value\"]...\n"
    "                                 also show how the proxy would judge that request: the\n"
    "                                 canonical target, the route and the limit keys, or the 400\n"
    "       sluice --version          print the version\n"
    "       sluice --help             print this help\n";

// A described request as the proxy's own decision judges it (no limiter: nothing is counted).
struct described {
  std::string method, target, ip = "127.0.0.1";
  std::vector<std::pair<std::string, std::string>> headers;
};

void explain(const sluice::config::config& cfg, const described& d) {
  namespace routing = sluice::routing;
  const auto peer = sluice::ip_address::parse(d.ip);
  if (!peer) throw std::invalid_argument("--ip: \"" + d.ip + "\" is not an IPv4 or IPv6 address");
  std::vector<routing::field_view> fields;
  bool has_host = false;
  for (const auto& [n, v] : d.headers) {
    fields.push_back({n, v});
    if (n.size() == 4 && (n[0] | 0x20) == 'h' && (n[1] | 0x20) == 'o' && (n[2] | 0x20) == 's' &&
        (n[3] | 0x20) == 't')
      has_host = true;
  }
  if (!has_host) fields.push_back({"Host", "localhost"});
  const routing::route_table routes(cfg);
  routing::request_view view;
  view.method = d.method;
  view.target = d.target;
  view.fields = fields;
  view.peer = *peer;
  routing::admission a;
  routing::decide(view, cfg, routes, a);
  std::cout << "request " << d.method << ' ' << d.target << " from " << d.ip << ": ";
  if (!a.ok()) {
    std::cout << "refused, 400: " << a.message() << '\n';
    return;
  }
  std::cout << "forwarded as " << a.method << ' ' << a.target.path << a.target.query << '\n';
  std::cout << "  route " << a.route->name << " (matched on " << a.target.match_path << ")";
  if (!(a.client == *peer)) std::cout << ", client " << a.client.to_string();
  if (a.allowlisted) std::cout << ", allowlisted: never limited";
  else if (a.route->exempt) std::cout << ", exempt: never limited";
  std::cout << '\n';
  if (a.exempt) return;
  for (const auto& l : a.route->limits) std::cout << "  limit " << sluice::config::summarize(l) << '\n';
}

int check(const std::string& path, const std::optional<described>& request) {
  try {
    const auto cfg = sluice::config::load_file(path);
    std::cout << path << ": ok, " << cfg->routes.size() + 1 << " routes\n";
    for (const auto& r : cfg->routes) std::cout << sluice::config::summarize(r) << '\n';
    std::cout << sluice::config::summarize(cfg->default_route) << '\n';
    for (const auto& line : sluice::config::summarize(cfg->paths)) std::cout << line << '\n';
    // strict GCRA: burst 1 refuses a request that is early by any amount (about 62 % of
    // at-rate traffic with jitter gets through). Valid, but rarely what is meant.
    auto warn_burst = [&](const sluice::config::route& r) {
      for (const auto& l : r.limits) {
        if (l.rate && l.algo == sluice::config::algorithm::token_bucket && l.burst == 1) {
          std::cout << "warning: route " << r.name << ", limit \"" << l.name
                    << "\": token_bucket with burst 1 refuses any request that arrives early by any "
                       "amount (about 62 % of at-rate traffic with jitter gets through); use "
                       "algorithm: sliding_window, or a larger burst\n";
        }
      }
    };
    for (const auto& r : cfg->routes) warn_burst(r);
    warn_burst(cfg->default_route);
    if (request) explain(*cfg, *request);
    return 0;
  } catch (const sluice::config::config_error& e) {
    std::cerr << e.what() << '\n';
    return 1;
  } catch (const std::invalid_argument& e) {
    std::cerr << "sluice check: " << e.what() << '\n';
    return 2;
  }
}

// `check PATH [--request "M T"] [--ip IP] [--header "N: v"]...`; `check --config PATH` too.
int check_command(int argc, char** argv) {
  std::string path;
  std::optional<described> request;
  described d;
  bool have_request = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--config" && has_value && path.empty()) {
      path = argv[++i];
    } else if (a == "--request" && has_value) {
      const std::string v = argv[++i];
      const auto space = v.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == v.size()) {
        std::cerr << "sluice check: --request expects \"METHOD TARGET\", e.g. \"GET /api/x\"\n";
        return 2;
      }
      d.method = v.substr(0, space);
      d.target = v.substr(space + 1);
      have_request = true;
    } else if (a == "--ip" && has_value) {
      d.ip = argv[++i];
    } else if (a == "--header" && has_value) {
      const std::string v = argv[++i];
      const auto colon = v.find(':');
      if (colon == std::string::npos || colon == 0) {
        std::cerr << "sluice check: --header expects \"Name: value\"\n";
        return 2;
      }
      std::string value = v.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      d.headers.emplace_back(v.substr(0, colon), value);
    } else if (path.empty() && !a.starts_with("--")) {
      path = a;
    } else {
      std::cerr << "sluice check: unexpected argument \"" << a << "\"\n" << usage_text;
      return 2;
    }
  }
  if (path.empty()) {
    std::cerr << "sluice check: expected a config path\n" << usage_text;
    return 2;
  }
  if (have_request) request = d;
  return check(path, request);
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
  if (arg1 == "check") return check_command(argc, argv);
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
