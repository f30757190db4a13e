// Good configs: every value lands in the right field, defaults fill the rest, derived names and
// limit ids are what the limiter and `sluice check` rely on.
#include "config/config_loader.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "config/config_error.hpp"

using namespace std::chrono_literals;
using namespace sluice::config;

namespace {

const std::string fixtures = std::string(SLUICE_FIXTURES_DIR) + "/config/";

std::shared_ptr<const config> load_yaml(const std::string& yaml) { return load_string(yaml, "test.yaml"); }

const std::string upstream_only = "upstream: {address: 127.0.0.1:9000}\n";

}  // namespace

TEST_CASE("a config with only the upstream gets every default") {
  const auto cfg = load_file(fixtures + "good_minimal.yaml");
  CHECK(cfg->source == fixtures + "good_minimal.yaml");
  CHECK(cfg->listen == endpoint{"127.0.0.1", 8080});
  CHECK(cfg->workers == 0);
  CHECK(cfg->upstream.address == endpoint{"127.0.0.1", 9000});
  CHECK(cfg->upstream.connect_timeout == 2s);
  CHECK(cfg->upstream.response_timeout == 30s);
  CHECK(cfg->upstream.pool_max_idle == 64);
  CHECK(cfg->upstream.pool_idle_timeout == 60s);
  CHECK(cfg->timeouts.header == 10s);
  CHECK(cfg->timeouts.idle == 60s);
  CHECK(cfg->timeouts.body == 30s);
  CHECK(cfg->timeouts.drain == 10s);
  CHECK(cfg->caps.max_header_bytes == 16384);
  CHECK(cfg->caps.max_body_bytes == 10485760);
  CHECK(cfg->caps.max_client_connections == 10000);
  CHECK(cfg->caps.max_websockets == 10000);
  CHECK(cfg->caps.max_connections_per_ip == 256);
  CHECK(cfg->caps.reserved_connections == 32);
  CHECK(cfg->client_ip.trusted_proxies.empty());
  CHECK(cfg->client_ip.ipv6_prefix == 64);
  CHECK(cfg->allowlist.empty());
  CHECK(cfg->key_table.max_keys == 1000000);
  CHECK(cfg->access_log == "stdout");
  CHECK(cfg->admin.enabled);
  CHECK(cfg->admin.listen == endpoint{"127.0.0.1", 9901});
  REQUIRE(cfg->admin.allow.size() == 2);
  CHECK(cfg->admin.allow[0].to_string() == "127.0.0.0/8");
  CHECK(cfg->admin.allow[1].to_string() == "::1/128");
  CHECK(cfg->admin.token_env.empty());
  CHECK(cfg->admin.hosts == std::vector<std::string>{"localhost", "127.0.0.1", "[::1]"});
  CHECK(cfg->admin.max_connections == 64);
  CHECK(cfg->admin.max_connections_per_ip == 8);
  CHECK(cfg->admin.header_timeout == 5s);
  CHECK(cfg->admin.idle_timeout == 30s);
  CHECK(cfg->admin.token_failures_per_minute == 10);
  CHECK(cfg->metrics.enabled);
  CHECK(cfg->routes.empty());
  CHECK(cfg->default_route.name == "default");
  CHECK(cfg->default_route.match == match_kind::prefix);
  CHECK(cfg->default_route.pattern == "/");
  CHECK(cfg->default_route.methods.empty());
  CHECK_FALSE(cfg->default_route.exempt);
  CHECK(cfg->default_route.limits.empty());
  CHECK_FALSE(cfg->default_route.websocket.has_value());
}

TEST_CASE("every key of a full config lands in its field") {
  const auto cfg = load_file(fixtures + "good_full.yaml");
  CHECK(cfg->listen == endpoint{"::1", 8443});
  CHECK(cfg->workers == 4);
  CHECK(cfg->upstream.address == endpoint{"backend.internal", 9000});
  CHECK(cfg->upstream.connect_timeout == 500ms);
  CHECK(cfg->upstream.response_timeout == 90s);
  CHECK(cfg->upstream.pool_max_idle == 0);
  CHECK(cfg->upstream.pool_idle_timeout == 1500ms);
  CHECK(cfg->timeouts.header == 5s);
  CHECK(cfg->timeouts.idle == 2min);
  CHECK(cfg->timeouts.body == 45s);
  CHECK(cfg->timeouts.drain == 3s);
  CHECK(cfg->caps.max_header_bytes == 32 * 1024);
  CHECK(cfg->caps.max_body_bytes == 1024ull * 1024 * 1024);
  CHECK(cfg->caps.max_client_connections == 500);
  CHECK(cfg->caps.max_websockets == 200);
  CHECK(cfg->caps.max_connections_per_ip == 20);
  CHECK(cfg->caps.reserved_connections == 10);
  REQUIRE(cfg->client_ip.trusted_proxies.size() == 2);
  CHECK(cfg->client_ip.trusted_proxies[0] == *sluice::cidr::parse("10.0.0.0/8"));
  CHECK(cfg->client_ip.trusted_proxies[1] == *sluice::cidr::parse("::1/128"));
  CHECK(cfg->client_ip.ipv6_prefix == 56);
  REQUIRE(cfg->allowlist.size() == 2);
  CHECK(cfg->allowlist[0].to_string() == "127.0.0.5/32");
  CHECK(cfg->allowlist[1].to_string() == "2001:db8::/32");
  CHECK(cfg->key_table.max_keys == 5000);
  CHECK(cfg->access_log == "/var/log/sluice/access.log");
  CHECK_FALSE(cfg->admin.enabled);
  CHECK(cfg->admin.listen == endpoint{"::1", 9902});
  REQUIRE(cfg->admin.allow.size() == 2);
  CHECK(cfg->admin.allow[0].to_string() == "10.1.0.0/16");
  CHECK(cfg->admin.allow[1].to_string() == "fd00::/8");
  CHECK(cfg->admin.token_env == "SLUICE_TEST_TOKEN");
  CHECK(cfg->admin.hosts == std::vector<std::string>{"admin.internal", "10.1.2.3", "[fd00::1]"});
  CHECK(cfg->admin.max_connections == 16);
  CHECK(cfg->admin.max_connections_per_ip == 0);
  CHECK(cfg->admin.header_timeout == 2s);
  CHECK(cfg->admin.idle_timeout == 1min);
  CHECK(cfg->admin.token_failures_per_minute == 3);
  CHECK_FALSE(cfg->metrics.enabled);

  REQUIRE(cfg->routes.size() == 3);
  const route& health = cfg->routes[0];
  CHECK(health.name == "health");
  CHECK(health.match == match_kind::exact);
  CHECK(health.pattern == "/health");
  CHECK(health.exempt);
  CHECK(health.limits.empty());
  // `websocket: {}` on an exempt route: upgrades allowed, every setting at its default.
  REQUIRE(health.websocket.has_value());
  CHECK(health.websocket->max_connections_per_ip == 0);
  CHECK(health.websocket->max_connections == 0);
  CHECK_FALSE(health.websocket->messages_per_ip.has_value());
  CHECK(health.websocket->on_message_limit == message_limit_action::close);
  CHECK(health.websocket->idle_timeout == 5min);
  CHECK(health.websocket->max_message_bytes == 1024 * 1024);
  CHECK(health.websocket->max_queued_bytes == 64 * 1024);
  CHECK(health.websocket->compression.enabled);
  CHECK(health.websocket->compression.window_bits == 15);
  CHECK(health.websocket->compression.mem_level == 4);
  CHECK(health.websocket->compression.level == 6);
  CHECK(health.websocket->id != 0);

  const route& projects = cfg->routes[1];
  CHECK(projects.match == match_kind::glob);
  CHECK(projects.pattern == "/api/projects/*/files/**");
  CHECK(projects.methods == std::vector<std::string>{"GET", "HEAD"});
  CHECK_FALSE(projects.exempt);
  CHECK_FALSE(projects.websocket.has_value());
  REQUIRE(projects.limits.size() == 2);
  const limit& by_key = projects.limits[0];
  CHECK(by_key.per == key_kind::header);
  CHECK(by_key.header == "x-api-key");
  CHECK(by_key.rate == rate{10, 1s});
  CHECK(by_key.algo == algorithm::token_bucket);
  CHECK(by_key.burst == 40);
  CHECK(by_key.max_in_flight == 0);
  CHECK(by_key.name == "10/second per header x-api-key");
  const limit& total = projects.limits[1];
  CHECK(total.per == key_kind::route);
  CHECK(total.header.empty());
  CHECK(total.rate == rate{100, 90s});
  CHECK(total.algo == algorithm::sliding_window);
  CHECK(total.burst == 100);
  CHECK(total.name == "projects-total");

  const route& jobs = cfg->routes[2];
  CHECK(jobs.match == match_kind::prefix);
  CHECK(jobs.pattern == "/api/jobs");
  CHECK(jobs.methods == std::vector<std::string>{"POST"});
  REQUIRE(jobs.limits.size() == 2);
  CHECK(jobs.limits[0].rate == rate{20, 1min});
  CHECK(jobs.limits[0].max_in_flight == 2);
  CHECK(jobs.limits[0].name == "20/minute, max_in_flight 2 per ip");
  CHECK_FALSE(jobs.limits[1].rate.has_value());
  CHECK(jobs.limits[1].burst == 0);
  CHECK(jobs.limits[1].max_in_flight == 4);
  CHECK(jobs.limits[1].name == "max_in_flight 4 per header x-api-key");
  REQUIRE(jobs.websocket.has_value());
  CHECK(jobs.websocket->max_connections_per_ip == 3);
  CHECK(jobs.websocket->max_connections == 50);
  CHECK(jobs.websocket->messages_per_ip == rate{5, 2s});
  CHECK(jobs.websocket->on_message_limit == message_limit_action::drop);
  CHECK(jobs.websocket->idle_timeout == 90s);
  CHECK(jobs.websocket->max_message_bytes == 256 * 1024);
  CHECK(jobs.websocket->max_queued_bytes == 2048);

  REQUIRE(cfg->default_route.limits.size() == 1);
  CHECK(cfg->default_route.limits[0].rate == rate{600, 1min});
  CHECK(cfg->default_route.limits[0].name == "600/minute per ip");
  REQUIRE(cfg->default_route.websocket.has_value());
  CHECK(cfg->default_route.websocket->max_connections == 7);
  CHECK(cfg->default_route.websocket->max_connections_per_ip == 0);
}

TEST_CASE("a websocket block's id is its route's name: a reload that changes its settings keeps its counts") {
  auto id_of = [](const std::string& route) {
    const auto cfg = load_yaml(upstream_only + "routes:\n" + route);
    REQUIRE(cfg->routes.at(0).websocket.has_value());
    return cfg->routes.at(0).websocket->id;
  };
  const std::string block = "{max_connections_per_ip: 5, messages_per_ip: 10/second}";
  const std::uint64_t id = id_of("  - {name: ws, path: /ws, websocket: " + block + "}\n");
  CHECK(id != 0);
  CHECK(id == id_of("  - {name: ws, path: /ws, websocket: " + block + "}\n"));
  // The route's match, methods and limits are not part of it.
  CHECK(id == id_of("  - {name: ws, prefix: /sockets/, methods: [GET], limits: [{rate: 1/s}], websocket: " +
                    block + "}\n"));
  CHECK(id != id_of("  - {name: ws2, path: /ws, websocket: " + block + "}\n"));
  // Nor any setting of the block: messages_per_ip's counts are rebased by the limiter instead.
  const char* changes[] = {
      "{max_connections_per_ip: 6, messages_per_ip: 10/second}",
      "{max_connections_per_ip: 5, messages_per_ip: 10/second, max_connections: 1}",
      "{max_connections_per_ip: 5, messages_per_ip: 10/minute}",
      "{max_connections_per_ip: 5, messages_per_ip: 11/second}",
      "{max_connections_per_ip: 5}",
      "{max_connections_per_ip: 5, messages_per_ip: 10/second, on_message_limit: drop}",
      "{max_connections_per_ip: 5, messages_per_ip: 10/second, idle_timeout: 4m}",
      "{max_connections_per_ip: 5, messages_per_ip: 10/second, max_message_size: 2MiB}",
      "{max_connections_per_ip: 5, messages_per_ip: 10/second, max_queued_bytes: 32KiB}",
  };
  for (const char* changed : changes) {
    INFO("block " << changed);
    CHECK(id == id_of(std::string("  - {name: ws, path: /ws, websocket: ") + changed + "}\n"));
  }
  // Never equal to a limit's id on the same route.
  const auto cfg = load_yaml(upstream_only + "routes:\n  - {name: ws, path: /ws, limits: [{rate: 1/s}], "
                                             "websocket: {}}\n");
  CHECK(cfg->routes[0].websocket->id != cfg->routes[0].limits[0].id);
}

TEST_CASE("admin and metrics default when left out, and admin.allow only when absent") {
  const auto cfg = load_yaml(upstream_only + "admin: {listen: 127.0.0.1:0, token_env: _T0}\nmetrics: {}\n");
  CHECK(cfg->admin.enabled);
  CHECK(cfg->admin.listen == endpoint{"127.0.0.1", 0});
  CHECK(cfg->admin.allow.size() == 2);
  CHECK(cfg->admin.token_env == "_T0");
  CHECK(cfg->metrics.enabled);
  const auto narrowed = load_yaml(upstream_only + "admin: {allow: [10.9.8.7]}\n");
  REQUIRE(narrowed->admin.allow.size() == 1);
  CHECK(narrowed->admin.allow[0].to_string() == "10.9.8.7/32");
}

TEST_CASE("the connection reserve defaults to an eighth of a small pool, at most 32") {
  CHECK(load_yaml(upstream_only + "caps: {max_client_connections: 2}\n")->caps.reserved_connections == 0);
  CHECK(load_yaml(upstream_only + "caps: {max_client_connections: 100}\n")->caps.reserved_connections == 12);
  CHECK(load_yaml(upstream_only + "caps: {max_client_connections: 1000}\n")->caps.reserved_connections == 32);
  // Set, it is taken as written, whatever order the keys come in.
  const auto set = load_yaml(upstream_only +
                             "caps: {reserved_connections: 99, max_client_connections: 100}\n");
  CHECK(set->caps.reserved_connections == 99);
  CHECK(load_yaml(upstream_only + "caps: {reserved_connections: 0}\n")->caps.reserved_connections == 0);
  CHECK(load_yaml(upstream_only + "caps: {max_connections_per_ip: 0}\n")->caps.max_connections_per_ip == 0);
}

TEST_CASE("admin hosts are stored lower-case without a port, IPv6 in brackets") {
  const auto cfg = load_yaml(upstream_only + "admin: {hosts: [LocalHost, \"[::1]\", 10.0.0.1, sluice-admin.svc]}\n");
  CHECK(cfg->admin.hosts ==
        std::vector<std::string>{"localhost", "[::1]", "10.0.0.1", "sluice-admin.svc"});
}

TEST_CASE("websocket sizes and limits take their whole range") {
  const auto cfg = load_yaml(upstream_only +
                             "routes:\n"
                             "  - name: ws\n"
                             "    path: /ws\n"
                             "    websocket:\n"
                             "      max_connections_per_ip: 0\n"
                             "      max_connections: 4294967295\n"
                             "      messages_per_ip: 5000000/second\n"
                             "      max_message_size: 1\n"
                             "      max_queued_bytes: 1KiB\n"
                             "      idle_timeout: 1d\n");
  const websocket_settings& ws = *cfg->routes.at(0).websocket;
  CHECK(ws.max_connections == 4294967295u);
  // The sliding window's count cap is a limit's; a message rate is counted like a token bucket.
  CHECK(ws.messages_per_ip == rate{5000000, 1s});
  CHECK(ws.max_message_bytes == 1);
  CHECK(ws.max_queued_bytes == 1024);
  CHECK(ws.idle_timeout == 24h);
}

TEST_CASE("per defaults to ip and burst to the rate's count") {
  const auto cfg = load_yaml(upstream_only + "default: {limits: [{rate: 5/30s, algorithm: token_bucket}]}\n");
  const limit& l = cfg->default_route.limits.at(0);
  CHECK(l.per == key_kind::ip);
  CHECK(l.burst == 5);
  CHECK(l.name == "5/30s per ip");
}

TEST_CASE("a sliding_window may count up to 100000 and a token_bucket beyond") {
  CHECK_NOTHROW(load_yaml(upstream_only + "default: {limits: [{rate: 100000/second}]}\n"));
  CHECK_NOTHROW(
      load_yaml(upstream_only + "default: {limits: [{rate: 5000000/second, algorithm: token_bucket}]}\n"));
}

TEST_CASE("limit ids are stable across loads and differ between limits") {
  const auto first = load_file(fixtures + "good_full.yaml");
  const auto second = load_file(fixtures + "good_full.yaml");
  std::vector<std::uint64_t> ids;
  for (std::size_t r = 0; r < first->routes.size(); ++r) {
    for (std::size_t i = 0; i < first->routes[r].limits.size(); ++i) {
      CHECK(first->routes[r].limits[i].id == second->routes[r].limits[i].id);
      ids.push_back(first->routes[r].limits[i].id);
    }
  }
  ids.push_back(first->default_route.limits.at(0).id);
  CHECK(ids.size() == 5);
  std::sort(ids.begin(), ids.end());
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  CHECK(std::find(ids.begin(), ids.end(), 0u) == ids.end());
}

TEST_CASE("a limit's id is its route, what it counts by and its ordinal, not its definition") {
  auto ids_of = [](const std::string& routes) {
    std::vector<std::uint64_t> ids;
    for (const auto& l : load_yaml(upstream_only + "routes:\n" + routes)->routes.at(0).limits)
      ids.push_back(l.id);
    return ids;
  };
  auto id_of = [&](const std::string& routes) { return ids_of(routes).back(); };
  const std::string base = "  - {name: a, path: /a, limits: [{per: ip, rate: 60/minute}]}\n";
  const std::uint64_t id = id_of(base);
  // The rest of the route, the limit's name and mode, and its whole definition are left out:
  // a reload that changes them keeps the keys' state (the limiter reinterprets it).
  const char* same[] = {
      "  - {name: a, path: /other, methods: [GET], limits: [{per: ip, rate: 60/minute}]}\n",
      "  - {name: a, path: /a, limits: [{per: ip, rate: 60/minute, name: renamed}]}\n",
      "  - {name: a, path: /a, limits: [{per: ip, rate: 60/minute, mode: shadow}]}\n",
      "  - {name: a, path: /a, limits: [{per: ip, rate: 60/m}]}\n",
      "  - {name: a, path: /a, limits: [{per: ip, rate: 61/minute}]}\n",
      "  - {name: a, path: /a, limits: [{per: ip, rate: 60/hour}]}\n",
      "  - {name: a, path: /a, limits: [{per: ip, rate: 60/minute, max_in_flight: 1}]}\n",
      "  - {name: a, path: /a, limits: [{per: ip, max_in_flight: 1}]}\n",
      "  - {name: a, path: /a, limits: [{per: ip, rate: 60/minute, algorithm: token_bucket}]}\n",
      "  - {name: a, path: /a, limits: [{per: ip, rate: 60/minute, algorithm: token_bucket, burst: 5}]}\n",
  };
  for (const char* routes : same) {
    INFO(routes);
    CHECK(id_of(routes) == id);
  }
  // What it counts by, and the route's name, are the identity.
  CHECK(id_of("  - {name: b, path: /a, limits: [{per: ip, rate: 60/minute}]}\n") != id);
  CHECK(id_of("  - {name: a, path: /a, limits: [{per: route, rate: 60/minute}]}\n") != id);
  const std::uint64_t header_id = id_of("  - {name: a, path: /a, limits: [{per: header x, rate: 60/minute}]}\n");
  CHECK(header_id != id);
  CHECK(id_of("  - {name: a, path: /a, limits: [{per: header y, rate: 60/minute}]}\n") != header_id);
  // Header names are compared lower-case, so their spelling does not change the identity.
  CHECK(id_of("  - {name: a, path: /a, limits: [{per: header X-Key, rate: 60/minute}]}\n") ==
        id_of("  - {name: a, path: /a, limits: [{per: header x-key, rate: 60/minute}]}\n"));

  // The ordinal counts only limits with the same per/header: inserting a limit that counts by
  // something else, before or after, moves nothing.
  CHECK(id_of("  - {name: a, path: /a, limits: [{per: route, rate: 1/s}, {per: header k, rate: 1/s}, "
              "{per: ip, rate: 60/minute}]}\n") == id);
  // Two limits with the same per are told apart by their order among themselves...
  const auto two = ids_of("  - {name: a, path: /a, limits: [{per: ip, rate: 60/minute}, {per: ip, rate: 1/s}]}\n");
  REQUIRE(two.size() == 2);
  CHECK(two[0] == id);
  CHECK(two[1] != id);
  // ...so one appended keeps the first's identity, and one inserted before it takes it over.
  const auto inserted = ids_of("  - {name: a, path: /a, limits: [{per: ip, rate: 1/s}, {per: ip, rate: 60/minute}]}\n");
  CHECK(inserted == two);
}

TEST_CASE("quoted numbers, flow maps and anchors read like their plain forms") {
  const auto cfg = load_yaml(
      "workers: \"8\"\n"
      "upstream: {address: \"127.0.0.1:9000\"}\n"
      "routes:\n"
      "  - name: a\n"
      "    path: /a\n"
      "    limits: &standard [{per: ip, rate: 60/minute}]\n"
      "  - name: b\n"
      "    path: /b\n"
      "    limits: *standard\n");
  CHECK(cfg->workers == 8);
  REQUIRE(cfg->routes.size() == 2);
  CHECK(cfg->routes[1].limits.at(0).rate == rate{60, 1min});
  CHECK(cfg->routes[0].limits.at(0).id != cfg->routes[1].limits.at(0).id);
}

TEST_CASE("a route may narrow an earlier route's path by method only when it takes other methods") {
  CHECK_NOTHROW(load_yaml(upstream_only +
                          "routes:\n"
                          "  - {name: a, path: /x, methods: [GET], limits: [{rate: 1/s}]}\n"
                          "  - {name: b, path: /x, limits: [{rate: 2/s}]}\n"));
  CHECK_THROWS_AS(load_yaml(upstream_only +
                            "routes:\n"
                            "  - {name: a, path: /x, methods: [GET, POST], limits: [{rate: 1/s}]}\n"
                            "  - {name: b, path: /x, methods: [post], limits: [{rate: 2/s}]}\n"),
                  config_error);
}

TEST_CASE("the shipped config/sluice.yaml loads with the documented routes") {
  const std::string path = std::string(SLUICE_SOURCE_DIR) + "/config/sluice.yaml";
  const auto cfg = load_file(path);
  CHECK(cfg->listen == endpoint{"127.0.0.1", 8080});
  CHECK(cfg->upstream.address == endpoint{"127.0.0.1", 9000});

  struct expected_route {
    const char* name;
    match_kind match;
    const char* pattern;
    bool exempt;
    std::uint64_t per_minute;  // 0 for exempt routes
  };
  const expected_route expected[] = {
      {"health", match_kind::exact, "/health", true, 0},
      {"admin", match_kind::prefix, "/api/admin/", true, 0},
      {"ws", match_kind::exact, "/ws", false, 30},
      {"system-ws", match_kind::exact, "/api/system/ws", false, 30},
      {"system-metrics", match_kind::exact, "/api/system/metrics", false, 30},
      {"stats", match_kind::exact, "/api/system/stats", false, 60},
      {"ports", match_kind::exact, "/api/system/ports", false, 30},
      {"services", match_kind::exact, "/api/services", false, 60},
      {"login", match_kind::exact, "/api/auth/login", false, 30},
      {"register", match_kind::exact, "/api/auth/register", false, 10},
  };
  REQUIRE(cfg->routes.size() == std::size(expected));
  for (std::size_t i = 0; i < std::size(expected); ++i) {
    const route& r = cfg->routes[i];
    INFO("route " << expected[i].name);
    CHECK(r.name == expected[i].name);
    CHECK(r.match == expected[i].match);
    CHECK(r.pattern == expected[i].pattern);
    CHECK(r.exempt == expected[i].exempt);
    CHECK(r.methods.empty());
    if (expected[i].exempt) {
      CHECK(r.limits.empty());
      continue;
    }
    REQUIRE(r.limits.size() == 1);
    CHECK(r.limits[0].per == key_kind::ip);
    CHECK(r.limits[0].rate == rate{expected[i].per_minute, 1min});
    CHECK(r.limits[0].algo == algorithm::sliding_window);
    if (r.pattern.ends_with("/ws") || r.pattern.ends_with("/metrics")) {
      REQUIRE(r.websocket.has_value());
      CHECK(r.websocket->max_connections_per_ip == 5);
      CHECK(r.websocket->max_connections == 1000);
      CHECK(r.websocket->messages_per_ip == rate{10, 1s});
      CHECK(r.websocket->on_message_limit == message_limit_action::close);
      CHECK(r.websocket->idle_timeout == 5min);
      CHECK(r.websocket->max_message_bytes == 1024 * 1024);
      CHECK(r.websocket->max_queued_bytes == 64 * 1024);
    } else {
      CHECK_FALSE(r.websocket.has_value());
    }
  }
  CHECK(cfg->admin.enabled);
  CHECK(cfg->admin.listen == endpoint{"127.0.0.1", 9901});
  CHECK(cfg->admin.token_env == "SLUICE_ADMIN_TOKEN");
  CHECK(cfg->metrics.enabled);

  const route& fallback = cfg->default_route;
  CHECK_FALSE(fallback.exempt);
  REQUIRE(fallback.limits.size() == 2);
  CHECK(fallback.limits[0].per == key_kind::ip);
  CHECK(fallback.limits[0].rate == rate{600, 1min});
  CHECK(fallback.limits[1].per == key_kind::route);
  CHECK(fallback.limits[1].rate == rate{6000, 1min});
}

TEST_CASE("websocket.compression: every key read, each within its range") {
  const auto cfg = load_string(
      "upstream: {address: 127.0.0.1:9000}\n"
      "routes:\n"
      "  - {name: a, path: /a, websocket: {compression: {enabled: false}}}\n"
      "  - {name: b, path: /b, websocket: {compression: {window_bits: 9, mem_level: 1, level: 9}}}\n",
      "x.yaml");
  REQUIRE(cfg->routes[0].websocket);
  CHECK_FALSE(cfg->routes[0].websocket->compression.enabled);
  const auto& b = cfg->routes[1].websocket->compression;
  CHECK(b.enabled);
  CHECK(b.window_bits == 9);
  CHECK(b.mem_level == 1);
  CHECK(b.level == 9);
}
