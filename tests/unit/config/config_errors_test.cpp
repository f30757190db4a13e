// One fixture per way a config can be wrong, each with the exact message an operator sees:
// FILE:LINE:COL: YAML.PATH: message, where FILE is the path exactly as given to load_file.
#include <doctest/doctest.h>

#include <string>

#include "config/config_error.hpp"
#include "config/config_loader.hpp"

using sluice::config::config_error;
using sluice::config::load_file;
using sluice::config::load_string;

namespace {

const std::string fixtures = std::string(SLUICE_FIXTURES_DIR) + "/config/";

// The message load_file raises for `path`, or a marker when it loads (or throws anything else).
std::string load_error(const std::string& path) {
  try {
    load_file(path);
  } catch (const config_error& e) {
    return e.what();
  } catch (...) {
    return "<an exception other than config_error>";
  }
  return "<loaded>";
}

struct bad_fixture {
  const char* file;
  const char* expected;  // everything after the file name
};

// Sorted by fixture name. Each fixture is a valid config but for the one mistake it is named for.
const bad_fixture bad_fixtures[] = {
    {"bad_admin_allow_empty.yaml",
     R"(:5:10: admin.allow: empty list would refuse every client; set admin.enabled: false instead)"},
    {"bad_admin_default_listen.yaml",
     R"(:1:9: listen: "127.0.0.1:9901": clashes with the admin listener's default address (127.0.0.1:9901); set admin.listen to another port, or admin.enabled: false)"},
    {"bad_admin_host.yaml",
     R"(:4:22: admin.hosts[1]: "evil host": expected a host name or an IP literal (IPv6 in brackets: "[::1]"))"},
    {"bad_admin_host_port.yaml",
     R"(:4:22: admin.hosts[1]: "localhost:9901": write the host without a port: every port is served)"},
    {"bad_admin_hosts_empty.yaml",
     R"(:4:10: admin.hosts: empty list would refuse every request by name; list the names operators use (an IP literal of the admin address is always served))"},
    {"bad_admin_max_connections.yaml",
     R"(:4:20: admin.max_connections: must be between 1 and 4294967295, got 0)"},
    {"bad_admin_listen.yaml",
     R"(:5:11: admin.listen: "127.0.0.1:8080": clashes with listen (127.0.0.1:8080); the admin listener needs a port of its own)"},
    {"bad_admin_token_env.yaml",
     R"(:4:14: admin.token_env: "sluice-admin-token": expected the name of an environment variable (letters, digits and "_", not starting with a digit))"},
    {"bad_access_log.yaml",
     R"(:3:13: access_log: "stdot": expected stdout, off or a file path (absolute, or relative starting with ./))"},
    {"bad_algorithm.yaml",
     R"(:7:18: default.limits[0].algorithm: "leaky_bucket": unknown algorithm (sliding_window, token_bucket))"},
    {"bad_algorithm_without_rate.yaml",
     R"(:7:18: default.limits[0].algorithm: algorithm applies to a rate, and this limit has none)"},
    {"bad_boolean.yaml",
     R"(:6:13: routes[0].exempt: expected true or false, got "yes")"},
    {"bad_burst_sliding_window.yaml",
     R"(:7:14: default.limits[0].burst: burst applies only to algorithm: token_bucket (sliding_window admits at most the rate's count in any window))"},
    {"bad_cidr.yaml",
     R"(:4:33: client_ip.trusted_proxies[1]: "192.168.1.1/16": host bits set past the prefix length)"},
    {"bad_default_key.yaml",
     R"(:4:3: default.path: unknown key "path" (the default route matches whatever no route does; it takes only limits, exempt and websocket))"},
    {"bad_duplicate_key.yaml",
     R"(:9:9: routes[0].limits[0].rate: duplicate key "rate" (first at line 8))"},
    {"bad_duplicate_route.yaml",
     R"(:10:11: routes[2].name: "stats": duplicate route name (first at line 4))"},
    {"bad_drain_timeout.yaml",
     R"(:4:10: timeouts.drain: "0s": must be greater than zero)"},
    {"bad_duration_missing_unit.yaml",
     R"(:3:20: upstream.connect_timeout: "2": missing unit (ms, s, m, h, d))"},
    {"bad_duration_unit.yaml",
     R"(:4:16: timeouts.client_idle: "30sec": unknown unit "sec" (ms, s, m, h, d))"},
    {"bad_duration_zero.yaml",
     R"(:4:18: timeouts.client_header: "0s": must be greater than zero)"},
    {"bad_empty.yaml",
     R"(: no configuration (the file is empty); at least "upstream" is required)"},
    {"bad_exempt_with_limits.yaml",
     R"(:8:7: routes[0].limits: an exempt route is never limited; remove its limits or set exempt: false)"},
    {"bad_expected_integer.yaml",
     R"(:3:10: workers: expected an integer, got "four")"},
    {"bad_expected_list.yaml",
     R"(:3:12: allowlist: expected a list, got "127.0.0.5/32" (write [127.0.0.5/32] for a list of one))"},
    {"bad_expected_map.yaml",
     R"(:1:11: upstream: expected a map, got "127.0.0.1:9000")"},
    {"bad_ipv6_prefix.yaml",
     R"(:4:16: client_ip.ipv6_prefix: must be between 1 and 128, got 129)"},
    {"bad_key_type.yaml",
     R"(:3:3: a key must be a plain word, got a list)"},
    {"bad_limit_mode.yaml",
     R"(:8:15: routes[0].limits[0].mode: "dry-run": expected enforce or shadow)"},
    {"bad_limit_empty.yaml",
     R"(:5:7: default.limits[0]: a limit needs rate, max_in_flight or both)"},
    {"bad_listen_host.yaml",
     R"(:1:9: listen: "localhost:8080": host must be an IP address (e.g. 127.0.0.1 or [::1]), not a name)"},
    {"bad_listen_port.yaml",
     R"(:1:9: listen: "127.0.0.1:70000": port must be between 0 and 65535)"},
    {"bad_max_in_flight.yaml",
     R"(:6:22: default.limits[0].max_in_flight: must be between 1 and 4294967295, got 0)"},
    {"bad_max_keys.yaml",
     R"(:4:13: key_table.max_keys: must be at least 1, got 0)"},
    {"bad_method.yaml",
     R"(:6:21: routes[0].methods[1]: "GET /": not a valid HTTP method)"},
    {"bad_methods_empty.yaml",
     R"(:6:14: routes[0].methods: empty list; leave methods out to match every method)"},
    {"bad_misplaced_key.yaml",
     R"(:6:5: routes[0].rate: unknown key "rate" (it belongs in a limit, under "limits"))"},
    {"bad_missing_route_name.yaml",
     R"(:4:5: routes[0]: missing required key "name")"},
    {"bad_missing_upstream.yaml",
     R"(:1:1: missing required key "upstream")"},
    {"bad_no_match_key.yaml",
     R"(:4:5: routes[0]: a route needs one of path (exact), prefix or glob)"},
    {"bad_pattern_slash.yaml",
     R"(:5:11: routes[0].path: "api/system/stats": must start with "/")"},
    {"bad_pattern_wildcard.yaml",
     R"(:5:11: routes[0].path: "/api/admin/**": "*" is a wildcard only under glob; write glob: /api/admin/**)"},
    {"bad_per.yaml",
     R"(:5:12: default.limits[0].per: "user": expected ip, route or "header <name>")"},
    {"bad_per_header.yaml",
     R"(:5:12: default.limits[0].per: "header X-Api Key": header name is not a valid HTTP token)"},
    {"bad_rate_count.yaml",
     R"(:6:13: default.limits[0].rate: "0/minute": count must be between 1 and 1000000000)"},
    {"bad_rate_duration.yaml",
     R"(:6:13: default.limits[0].rate: "5/30": missing unit (ms, s, m, h, d))"},
    {"bad_rate_period.yaml",
     R"(:6:13: default.limits[0].rate: "5/400d": period must be at most 1 year (365d))"},
    {"bad_rate_unit.yaml",
     R"(:14:15: routes[2].limits[0].rate: "60/minnute": unknown unit (second, minute, hour, day))"},
    {"bad_reserved_connections.yaml",
     R"(:5:25: caps.reserved_connections: "100": must be below caps.max_client_connections (100), or nothing but exempt requests could ever connect)"},
    {"bad_route_name.yaml",
     R"(:4:11: routes[0].name: "system stats": a route name is letters, digits, "_", "." and "-")"},
    {"bad_route_name_reserved.yaml",
     R"(:4:11: routes[0].name: "default": reserved for the fallback route; configure it under the top-level "default" key)"},
    {"bad_size.yaml",
     R"(:4:19: caps.max_body_bytes: "10MB": unknown unit "MB" (KiB, MiB, GiB, or a plain number of bytes))"},
    {"bad_sliding_window_count.yaml",
     R"(:6:13: default.limits[0].rate: "200000/second": sliding_window keeps one timestamp per admission, so its count is at most 100000; use algorithm: token_bucket for higher rates)"},
    {"bad_not_utf8.yaml",  // a Latin-1 byte: /config's JSON could not hold it
     R"(:2:24: the file is not UTF-8 text (byte 0xF1); YAML files are Unicode, save it as UTF-8)"},
    {"bad_stray_comma.yaml",  // yaml-cpp 0.7 alone loops for ever on it, eating memory
     R"(:1:1: YAML syntax error: unexpected ",")"},
    {"bad_syntax.yaml",
     R"(:5:1: YAML syntax error: end of sequence flow not found)"},
    {"bad_top_level_list.yaml",
     R"(:1:1: expected a map of settings at the top level, got a list)"},
    {"bad_two_documents.yaml",
     R"(:4:1: only one YAML document is allowed; remove the second "---")"},
    {"bad_two_match_keys.yaml",
     R"(:6:13: routes[0].prefix: a route takes exactly one of path, prefix or glob; this one also has "path" (line 5))"},
    {"bad_unknown_key.yaml",
     R"(:10:9: routes[0].limits[0].burts: unknown key "burts" (did you mean "burst"?))"},
    {"bad_unreachable_route.yaml",
     R"(:7:5: routes[1]: never matches: route "services" (line 4) comes first with the same exact pattern and all of its methods)"},
    {"bad_upstream_address.yaml",
     R"(:2:12: upstream.address: "backend.internal": missing port (expected host:port))"},
    {"bad_websocket_action.yaml",
     R"(:8:25: routes[0].websocket.on_message_limit: "kill": unknown action (close, drop))"},
    {"bad_websocket_action_without_rate.yaml",
     R"(:8:25: routes[0].websocket.on_message_limit: on_message_limit applies to messages_per_ip, and this block has none)"},
    {"bad_websocket_compression_enabled.yaml",
     R"(:6:16: default.websocket.compression.enabled: expected true or false, got "sometimes")"},
    {"bad_websocket_compression_key.yaml",
     R"(:7:36: routes[0].websocket.compression.memlevel: unknown key "memlevel" (did you mean "mem_level"?))"},
    {"bad_websocket_compression_scalar.yaml",
     R"(:6:30: routes[0].websocket.compression: expected a map, got "off" (write "compression: {enabled: false}" to turn it off))"},
    {"bad_websocket_compression_window.yaml",
     R"(:8:22: routes[0].websocket.compression.window_bits: must be between 9 and 15, got 8 (zlib cannot compress with a window under 2^9))"},
    {"bad_websocket_empty.yaml",
     R"(:6:5: routes[0].websocket: expected a map, got nothing (write "websocket: {}" for every default))"},
    {"bad_websocket_max_connections.yaml",
     R"(:7:24: routes[0].websocket.max_connections: expected a non-negative integer, got -1)"},
    {"bad_websocket_misplaced_key.yaml",
     R"(:6:5: routes[0].max_connections_per_ip: unknown key "max_connections_per_ip" (it belongs in a route's "websocket" block))"},
    {"bad_websocket_queued_bytes.yaml",
     R"(:5:23: default.websocket.max_queued_bytes: "512": must be at least 1024 bytes (the relay holds a whole frame header and some payload))"},
    {"bad_workers.yaml",
     R"(:1:10: workers: must be at most 256, got 300)"},
};

}  // namespace

TEST_CASE("every bad fixture fails with its exact message") {
  for (const bad_fixture& bad : bad_fixtures) {
    const std::string path = fixtures + bad.file;
    INFO("fixture: " << bad.file);
    CHECK(load_error(path) == path + bad.expected);
  }
}

TEST_CASE("config_error carries each part of the message") {
  const std::string path = fixtures + "bad_rate_unit.yaml";
  try {
    load_file(path);
    FAIL("bad_rate_unit.yaml loaded");
  } catch (const config_error& e) {
    CHECK(e.file() == path);
    CHECK(e.line() == 14);
    CHECK(e.col() == 15);
    CHECK(e.yaml_path() == "routes[2].limits[0].rate");
    CHECK(e.message() == R"("60/minnute": unknown unit (second, minute, hour, day))");
  }
}

TEST_CASE("a file that cannot be read names the path and the system's reason") {
  const std::string missing = fixtures + "does_not_exist.yaml";
  CHECK(load_error(missing) == missing + ": cannot read file: No such file or directory");
  CHECK(load_error(fixtures) == fixtures + ": cannot read file: Is a directory");
}

TEST_CASE("load_string names the source it is given") {
  try {
    load_string("upstream:\n  adress: 127.0.0.1:9000\n", "inline.yaml");
    FAIL("a misspelt key loaded");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()) ==
          R"(inline.yaml:2:3: upstream.adress: unknown key "adress" (did you mean "address"?))");
  }
}

TEST_CASE("unknown keys are reported before any value is converted") {
  // workers is wrong too, and comes first in the file; the typo still wins.
  const std::string yaml = "workers: many\nupstream: {address: 127.0.0.1:9000}\nlistne: 1\n";
  try {
    load_string(yaml, "two-mistakes.yaml");
    FAIL("a bad config loaded");
  } catch (const config_error& e) {
    CHECK(e.yaml_path() == "listne");
    CHECK(e.message() == R"(unknown key "listne" (did you mean "listen"?))");
  }
}

TEST_CASE("unknown keys with no close match list the keys that are allowed") {
  try {
    load_string("upstream: {address: 127.0.0.1:9000, retries: 3}\n", "x.yaml");
    FAIL("an unknown key loaded");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()) ==
          R"(x.yaml:1:37: upstream.retries: unknown key "retries" (known keys: address, )"
          R"(connect_timeout, response_timeout, pool_max_idle, pool_idle_timeout))");
  }
}

TEST_CASE("a value left empty is reported at its key") {
  try {
    load_string("upstream:\n  address:\n  connect_timeout: 1s\n", "x.yaml");
    FAIL("an empty address loaded");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()) ==
          "x.yaml:2:3: upstream.address: expected host:port, got nothing");
  }
}

TEST_CASE("websocket, admin and metrics keys get the same errors as every other key") {
  auto error_of = [](const std::string& yaml) {
    try {
      load_string("upstream: {address: 127.0.0.1:9000}\n" + yaml, "x.yaml");
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string("<loaded>");
  };
  CHECK(error_of("routes: [{name: ws, path: /ws, websocket: {idle_timout: 5m}}]\n") ==
        R"(x.yaml:2:44: routes[0].websocket.idle_timout: unknown key "idle_timout" (did you mean "idle_timeout"?))");
  CHECK(error_of("routes: [{name: ws, path: /ws, websocket: {messages_per_ip: 10/sec}}]\n") ==
        R"(x.yaml:2:61: routes[0].websocket.messages_per_ip: "10/sec": unknown unit (second, minute, hour, day))");
  CHECK(error_of("routes: [{name: ws, path: /ws, websocket: {idle_timeout: 0s}}]\n") ==
        R"(x.yaml:2:58: routes[0].websocket.idle_timeout: "0s": must be greater than zero)");
  CHECK(error_of("routes: [{name: ws, path: /ws, websocket: {max_message_size: 0}}]\n") ==
        R"(x.yaml:2:62: routes[0].websocket.max_message_size: "0": must be at least 1 byte)");
  CHECK(error_of("routes: [{name: ws, path: /ws, websocket: true}]\n") ==
        R"(x.yaml:2:43: routes[0].websocket: expected a map, got "true" (write "websocket: {}" for every default))");
  CHECK(error_of("caps: {max_websockets: 0}\n") ==
        "x.yaml:2:24: caps.max_websockets: must be between 1 and 4294967295, got 0");
  CHECK(error_of("admin: {token_env: $SLUICE_ADMIN_TOKEN}\n") ==
        R"(x.yaml:2:20: admin.token_env: "$SLUICE_ADMIN_TOKEN": write the variable's name without "$")");
  CHECK(error_of("admin: {listen: localhost:9901}\n") ==
        R"(x.yaml:2:17: admin.listen: "localhost:9901": host must be an IP address (e.g. 127.0.0.1 or [::1]), not a name)");
  CHECK(error_of("admin: {allow: [10.0.0.1/8]}\n") ==
        R"(x.yaml:2:17: admin.allow[0]: "10.0.0.1/8": host bits set past the prefix length)");
  CHECK(error_of("admin: {enabled: yes}\n") ==
        R"(x.yaml:2:18: admin.enabled: expected true or false, got "yes")");
  CHECK(error_of("metrics: {enabled: on}\n") ==
        R"(x.yaml:2:20: metrics.enabled: expected true or false, got "on")");
  // "enabled" belongs to admin and metrics both: the message lists the keys of the map it is in.
  CHECK(error_of("caps: {enabled: true}\n") ==
        R"(x.yaml:2:8: caps.enabled: unknown key "enabled" (known keys: max_header_bytes, )"
        R"(max_body_bytes, max_client_connections, max_websockets, max_connections_per_ip, )"
        R"(reserved_connections))");
  CHECK(error_of("token_env: X\n") ==
        R"(x.yaml:2:1: token_env: unknown key "token_env" (it belongs under "admin"))");
}

TEST_CASE("the admin listener may not share the proxy's socket, wildcards included") {
  auto loads = [](const std::string& listen, const std::string& admin) {
    try {
      load_string("listen: \"" + listen + "\"\nupstream: {address: 127.0.0.1:9000}\n" + admin, "x.yaml");
    } catch (const config_error&) {
      return false;
    }
    return true;
  };
  CHECK_FALSE(loads("0.0.0.0:8080", "admin: {listen: 127.0.0.1:8080}\n"));
  CHECK_FALSE(loads("127.0.0.1:8080", "admin: {listen: \"[::]:8080\"}\n"));
  CHECK_FALSE(loads("[::1]:8080", "admin: {listen: \"[::1]:8080\"}\n"));
  CHECK(loads("127.0.0.1:8080", "admin: {listen: 127.0.0.2:8080}\n"));
  CHECK(loads("127.0.0.1:8080", "admin: {listen: \"[::1]:8080\"}\n"));
  CHECK(loads("0.0.0.0:8080", "admin: {listen: \"[::1]:8080\"}\n"));
  CHECK(loads("127.0.0.1:8080", "admin: {listen: 127.0.0.1:8081}\n"));
  // Port 0 is a fresh port for each listener (tests run both on 0).
  CHECK(loads("127.0.0.1:0", "admin: {listen: 127.0.0.1:0}\n"));
  // A disabled admin listener binds nothing, so it clashes with nothing.
  CHECK(loads("127.0.0.1:9901", "admin: {enabled: false}\n"));
  CHECK(loads("127.0.0.1:8080", "admin: {enabled: false, listen: 127.0.0.1:8080}\n"));
}
