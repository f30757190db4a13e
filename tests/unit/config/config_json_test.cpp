// The admin API's /config: the running config as JSON, in the config file's own words.
#include "config/config_json.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "config/config_loader.hpp"

using nlohmann::json;
using sluice::config::load_file;
using sluice::config::load_string;
using sluice::config::to_json;

namespace {

const std::string fixtures = std::string(SLUICE_FIXTURES_DIR) + "/config/";

}  // namespace

TEST_CASE("the shipped config renders every section in the file's syntax") {
  const std::string path = std::string(SLUICE_SOURCE_DIR) + "/config/sluice.yaml";
  const auto cfg = load_file(path);
  const json j = to_json(*cfg);

  CHECK(j["source"] == path);
  CHECK(j["listen"] == "127.0.0.1:8080");
  CHECK(j["workers"] == 0);
  CHECK(j["upstream"] == json{{"address", "127.0.0.1:9000"},
                              {"connect_timeout", "2s"},
                              {"response_timeout", "30s"},
                              {"pool_max_idle", 64},
                              {"pool_idle_timeout", "1m"}});
  CHECK(j["timeouts"] == json{{"client_header", "10s"},
                              {"client_idle", "1m"},
                              {"client_body", "30s"},
                              {"drain", "10s"}});
  CHECK(j["caps"] == json{{"max_header_bytes", 16384},
                          {"max_body_bytes", 10485760},
                          {"max_client_connections", 10000},
                          {"max_websockets", 10000},
                          {"max_connections_per_ip", 256},
                          {"reserved_connections", 32}});
  CHECK(j["client_ip"] == json{{"trusted_proxies", json::array()}, {"ipv6_prefix", 64}});
  CHECK(j["allowlist"] == json::array());
  CHECK(j["key_table"] == json{{"max_keys", 1000000}});
  CHECK(j["access_log"] == "stdout");
  CHECK(j["admin"] == json{{"enabled", true},
                           {"listen", "127.0.0.1:9901"},
                           {"allow", {"127.0.0.0/8", "::1/128"}},
                           {"token_env", "SLUICE_ADMIN_TOKEN"},
                           {"mutating_endpoints", true},
                           {"hosts", {"localhost", "127.0.0.1", "[::1]"}},
                           {"max_connections", 64},
                           {"max_connections_per_ip", 8},
                           {"header_timeout", "5s"},
                           {"idle_timeout", "30s"},
                           {"token_failures_per_minute", 10}});
  CHECK(j["metrics"] == json{{"enabled", true}});

  REQUIRE(j["routes"].size() == cfg->routes.size());
  for (std::size_t i = 0; i < cfg->routes.size(); ++i) CHECK(j["routes"][i]["name"] == cfg->routes[i].name);

  const json& health = j["routes"][0];
  CHECK(health["match"] == "exact");
  CHECK(health["pattern"] == "/health");
  CHECK(health["methods"] == json::array());
  CHECK(health["exempt"] == true);
  CHECK(health["limits"] == json::array());
  CHECK(health["websocket"].is_null());

  const json& ws = j["routes"][2];
  CHECK(ws["name"] == "ws");
  REQUIRE(ws["limits"].size() == 1);
  const json& handshake = ws["limits"][0];
  CHECK(handshake["name"] == "30/minute per ip");
  CHECK(handshake["per"] == "ip");
  CHECK(handshake["header"].is_null());
  CHECK(handshake["rate"] == "30/minute");
  CHECK(handshake["algorithm"] == "sliding_window");
  CHECK(handshake["burst"] == 30);
  CHECK(handshake["max_in_flight"] == 0);
  CHECK(handshake["id"].get<std::string>().size() == 16);
  const json& block = ws["websocket"];
  CHECK(block["max_connections_per_ip"] == 5);
  CHECK(block["max_connections"] == 1000);
  CHECK(block["messages_per_ip"] == "10/second");
  CHECK(block["on_message_limit"] == "close");
  CHECK(block["idle_timeout"] == "5m");
  CHECK(block["max_message_size"] == 1048576);
  CHECK(block["max_queued_bytes"] == 65536);
  CHECK(block["id"].get<std::string>().size() == 16);

  const json& fallback = j["default"];
  CHECK(fallback["name"] == "default");
  CHECK(fallback["match"] == "prefix");
  CHECK(fallback["pattern"] == "/");
  REQUIRE(fallback["limits"].size() == 2);
  CHECK(fallback["limits"][1]["per"] == "route");
  CHECK(fallback["limits"][1]["rate"] == "6000/minute");
}

TEST_CASE("every setting of a full config appears, with nulls for what is not set") {
  const json j = to_json(*load_file(fixtures + "good_full.yaml"));
  CHECK(j["listen"] == "[::1]:8443");
  CHECK(j["upstream"]["address"] == "backend.internal:9000");
  CHECK(j["upstream"]["connect_timeout"] == "500ms");
  CHECK(j["upstream"]["response_timeout"] == "1m30s");
  CHECK(j["caps"]["max_body_bytes"] == 1073741824);
  CHECK(j["client_ip"]["trusted_proxies"] == json{"10.0.0.0/8", "::1/128"});
  CHECK(j["admin"]["listen"] == "[::1]:9902");
  CHECK(j["admin"]["enabled"] == false);
  CHECK(j["metrics"]["enabled"] == false);

  const json& projects = j["routes"][1];
  CHECK(projects["match"] == "glob");
  CHECK(projects["methods"] == json{"GET", "HEAD"});
  CHECK(projects["limits"][0]["per"] == "header");
  CHECK(projects["limits"][0]["header"] == "x-api-key");
  CHECK(projects["limits"][0]["algorithm"] == "token_bucket");
  CHECK(projects["limits"][0]["burst"] == 40);
  CHECK(projects["limits"][1]["rate"] == "100/1m30s");

  const json& concurrency = j["routes"][2]["limits"][1];
  CHECK(concurrency["rate"].is_null());
  CHECK(concurrency["algorithm"].is_null());
  CHECK(concurrency["burst"].is_null());
  CHECK(concurrency["max_in_flight"] == 4);

  const json& block = j["routes"][2]["websocket"];
  CHECK(block["messages_per_ip"] == "5/2s");
  CHECK(block["on_message_limit"] == "drop");
  CHECK(block["idle_timeout"] == "1m30s");
  CHECK(block["max_message_size"] == 262144);
  CHECK(j["routes"][0]["websocket"]["messages_per_ip"].is_null());
  CHECK(j["default"]["websocket"]["max_connections"] == 7);
}

TEST_CASE("admin.token_env is shown by name, and an empty one turns mutating endpoints off") {
  const auto cfg = load_string("upstream: {address: 127.0.0.1:9000}\n", "x.yaml");
  const json j = to_json(*cfg);
  CHECK(j["admin"]["token_env"] == "");
  CHECK(j["admin"]["mutating_endpoints"] == false);
}
