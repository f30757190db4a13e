// Fuzz target: the config loader. YAML text in. load_string either returns a config or throws
// config_error (startup and reload catch only that; anything else would end the process, or a
// reload thread), and the message names the file. A config it returns must be usable by what
// reads it next: the route table compiles, the admin API's /config renders it as JSON, and
// `sluice check` summarises every route.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/config_error.hpp"
#include "config/config_json.hpp"
#include "config/config_loader.hpp"
#include "config/config_summary.hpp"
#include "routing/route_table.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  std::shared_ptr<const config::config> cfg;
  try {
    cfg = config::load_string(yaml, "fuzz.yaml");
  } catch (const config::config_error& e) {
    // "fuzz.yaml:LINE:COL: PATH: message" or "fuzz.yaml: message".
    const std::string_view what = e.what();
    if (what.substr(0, 9) != "fuzz.yaml" || e.message().empty()) __builtin_trap();
    return 0;
  }
  if (cfg == nullptr) __builtin_trap();
  const routing::route_table routes(*cfg);
  (void)routes.match("GET", {}, "/");
  (void)config::to_json(*cfg).dump(2);
  for (const auto& r : cfg->routes) (void)config::summarize(r);
  (void)config::summarize(cfg->default_route);
  (void)config::summarize(cfg->paths);
  return 0;
}
