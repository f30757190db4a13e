// `sluice check` prints one line a route.
#include "config/config_summary.hpp"

#include <doctest/doctest.h>

#include "config/config_loader.hpp"

using sluice::config::load_string;
using sluice::config::summarize;

TEST_CASE("summarize shows name, match, methods and each limit") {
  const auto cfg = load_string(
      "upstream: {address: 127.0.0.1:9000}\n"
      "routes:\n"
      "  - {name: stats, path: /api/system/stats, methods: [GET], limits: [{per: ip, rate: 60/minute}]}\n"
      "  - {name: health, path: /health, exempt: true}\n"
      "  - {name: open, prefix: /public/}\n"
      "  - name: api\n"
      "    glob: /api/**\n"
      "    methods: [GET, POST]\n"
      "    limits:\n"
      "      - {per: header X-Api-Key, rate: 10/second, algorithm: token_bucket, burst: 20}\n"
      "      - {per: ip, max_in_flight: 4, name: api-concurrency}\n"
      "      - {per: route, rate: 5/30s, max_in_flight: 100}\n",
      "summary.yaml");
  CHECK(summarize(cfg->routes[0]) == "stats  exact /api/system/stats  GET  60/minute per ip (sliding_window)");
  CHECK(summarize(cfg->routes[1]) == "health  exact /health  ANY  exempt");
  CHECK(summarize(cfg->routes[2]) == "open  prefix /public/  ANY  no limits");
  CHECK(summarize(cfg->routes[3]) ==
        "api  glob /api/**  GET,POST  10/second per header x-api-key (token_bucket, burst 20); "
        "api-concurrency: max_in_flight 4 per ip; "
        "5/30s, max_in_flight 100 per route (sliding_window)");
  CHECK(summarize(cfg->default_route) == "default  prefix /  ANY  no limits");
}

TEST_CASE("summarize adds a route's websocket caps") {
  const auto cfg = load_string(
      "upstream: {address: 127.0.0.1:9000}\n"
      "routes:\n"
      "  - name: ws\n"
      "    path: /ws\n"
      "    limits: [{per: ip, rate: 30/minute}]\n"
      "    websocket:\n"
      "      max_connections_per_ip: 5\n"
      "      max_connections: 1000\n"
      "      messages_per_ip: 10/second\n"
      "      on_message_limit: drop\n"
      "  - {name: events, path: /events, exempt: true, websocket: {}}\n"
      "default: {websocket: {max_connections: 20}}\n",
      "summary.yaml");
  CHECK(summarize(cfg->routes[0]) ==
        "ws  exact /ws  ANY  30/minute per ip (sliding_window)  websocket: max_connections_per_ip 5, "
        "max_connections 1000, messages_per_ip 10/second (drop)");
  CHECK(summarize(cfg->routes[1]) == "events  exact /events  ANY  exempt  websocket: no caps");
  CHECK(summarize(cfg->default_route) == "default  prefix /  ANY  no limits  websocket: max_connections 20");
}
