// The decision point: request line, fields and peer -> canonical target, route, client, keys.
// The proxy, /limits and `sluice check --request` all call this one function.

#include "routing/admission.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/config_loader.hpp"

namespace {

using namespace sluice;
using routing::request_problem;

constexpr const char* base_yaml = R"(
upstream: {address: 127.0.0.1:9000}
client_ip:
  trusted_proxies: [10.0.0.0/8]
allowlist: [192.0.2.0/24]
routes:
  - name: health
    path: /health
    exempt: true
  - name: admin
    prefix: /api/admin/
    exempt: true
  - name: stats
    path: /api/system/stats
    methods: [GET]
    limits:
      - {per: ip, rate: 60/minute}
  - name: register
    path: /api/auth/register
    methods: [POST]
    limits:
      - {per: ip, rate: 10/minute}
  - name: keyed
    path: /api/keyed
    limits:
      - {per: header X-Api-Key, rate: 2/hour}
)";

struct fixture {
  std::shared_ptr<const config::config> cfg;
  routing::route_table routes;
  explicit fixture(const std::string& yaml = base_yaml)
      : cfg(config::load_string(yaml, "test.yaml")), routes(*cfg) {}

  routing::admission decide(std::string method, std::string target,
                            std::vector<routing::field_view> fields = {{"Host", "example.com"}},
                            const char* peer = "198.51.100.7", unsigned version = 11) {
    routing::request_view v;
    v.method = method;
    v.target = target;
    v.version = version;
    v.fields = fields;
    v.peer = *ip_address::parse(peer);
    routing::admission a;
    routing::decide(v, *cfg, routes, a);
    // The views point into the strings above: copy what the checks read before they go.
    route_name = a.route ? a.route->name : "";
    path = std::string(a.target.path) + std::string(a.target.query);
    return a;
  }
  std::string route_name, path;
};

}  // namespace

TEST_CASE("a plain request is judged by its route and keyed by the peer") {
  fixture f;
  const auto a = f.decide("GET", "/api/system/stats?x=1");
  REQUIRE(a.ok());
  CHECK(f.route_name == "stats");
  CHECK(f.path == "/api/system/stats?x=1");
  CHECK(a.client.to_string() == "198.51.100.7");
  CHECK_FALSE(a.exempt);
  CHECK(a.keys.size() == 1);
}

TEST_CASE("every spelling of the stats path meets the stats route") {
  fixture f;
  for (const char* t : {"/api/system/%73tats", "/api//system/stats", "//api/system/stats",
                        "/api/x/../system/stats", "/API/system/stats", "/api/system/stats/",
                        "/api/system/stats/.", "/api/./system/stats", "/api/system/stats;jsessionid=1",
                        "/api/admin/../system/stats", "/api/admin/%2e%2e/system/stats",
                        "http://example.com/api/system/stats", "/api/system/STATS?q"}) {
    CAPTURE(t);
    const auto a = f.decide("GET", t);
    REQUIRE(a.ok());
    CHECK(f.route_name == "stats");
  }
  for (const char* m : {"get", "Get", "HEAD", "head"}) {
    CAPTURE(m);
    f.decide(m, "/api/system/stats");
    CHECK(f.route_name == "stats");
  }
  f.decide("post", "/api/auth/register");
  CHECK(f.route_name == "register");
}

TEST_CASE("spellings backends disagree on are refused before any limit") {
  fixture f;
  for (const char* t : {"/api/system%2Fstats", "/api/admin/..%2Fsystem/stats",
                        "/api/admin/..\\system\\stats", "/api/system%252Fstats",
                        "/api/admin/..;/system/stats", "/api/system/stats%00", "/a%C0%AF",
                        "/api/system/stats#x", "http:/api/auth/register", "api/system/stats"}) {
    CAPTURE(t);
    const auto a = f.decide("GET", t);
    CHECK(a.problem == request_problem::target);
    CHECK_FALSE(a.message().empty());
    CHECK(a.route == nullptr);
  }
  CHECK(f.decide("GET", "*").problem == request_problem::asterisk);
  CHECK(f.decide("OPTIONS", "*").ok());
}

TEST_CASE("Host: required in HTTP/1.1, once, well-formed, and equal to an absolute-form authority") {
  fixture f;
  CHECK(f.decide("GET", "/", {}).problem == request_problem::host_missing);
  CHECK(f.decide("GET", "/", {}, "198.51.100.7", 10).ok());
  CHECK(f.decide("GET", "/", {{"Host", "a"}, {"host", "b"}}).problem == request_problem::host_repeated);
  CHECK(f.decide("GET", "/", {{"Host", "a b"}}).problem == request_problem::host_invalid);
  CHECK(f.decide("GET", "/", {{"Host", "a/b"}}).problem == request_problem::host_invalid);
  CHECK(f.decide("GET", "/", {{"Host", "a:x"}}).problem == request_problem::host_invalid);
  CHECK(f.decide("GET", "/", {{"Host", "a@b"}}).problem == request_problem::host_invalid);
  CHECK(f.decide("GET", "/", {{"Host", "[::1]:8080"}}).ok());
  CHECK(f.decide("GET", "/", {{"Host", "example.com:80"}}).ok());
  CHECK(f.decide("GET", "/", {{"Host", ""}}).ok());
  CHECK(f.decide("GET", "http://example.com/x", {{"Host", "EXAMPLE.com"}}).ok());
  CHECK(f.decide("GET", "http://other.example/x", {{"Host", "example.com"}}).problem ==
        request_problem::host_mismatch);
}

TEST_CASE("Connection may not name the fields framing and routing depend on") {
  fixture f;
  for (const char* v : {"host", "close, Content-Length", "Transfer-Encoding", "keep-alive,HOST"}) {
    CAPTURE(v);
    CHECK(f.decide("GET", "/", {{"Host", "h"}, {"Connection", v}}).problem ==
          request_problem::connection_framing);
  }
  CHECK(f.decide("GET", "/", {{"Host", "h"}, {"Connection", "keep-alive, X-Foo"}}).ok());
}

TEST_CASE("the client comes from X-Forwarded-For only behind a trusted proxy") {
  fixture f;
  auto a = f.decide("GET", "/api/system/stats", {{"Host", "h"}, {"X-Forwarded-For", "203.0.113.9"}});
  CHECK(a.client.to_string() == "198.51.100.7");
  CHECK_FALSE(a.peer_trusted);
  a = f.decide("GET", "/api/system/stats", {{"Host", "h"}, {"X-Forwarded-For", "203.0.113.9"}},
               "10.1.2.3");
  CHECK(a.peer_trusted);
  CHECK(a.client.to_string() == "203.0.113.9");
  a = f.decide("GET", "/api/system/stats", {{"Host", "h"}, {"Forwarded", "for=203.0.113.10"}},
               "10.1.2.3");
  CHECK(a.client.to_string() == "203.0.113.10");
}

TEST_CASE("exempt routes and allowlisted clients ask no limit") {
  fixture f;
  auto a = f.decide("GET", "/HEALTH");
  CHECK(a.exempt);
  CHECK(a.keys.empty());
  a = f.decide("GET", "/api/system/stats", {{"Host", "h"}}, "192.0.2.5");
  CHECK(a.allowlisted);
  CHECK(a.exempt);
  CHECK(f.route_name == "stats");
}

TEST_CASE("a key field sent twice with different values is refused") {
  fixture f;
  CHECK(f.decide("GET", "/api/keyed", {{"Host", "h"}, {"X-Api-Key", "a"}, {"x-api-key", "b"}})
            .problem == request_problem::key_repeated);
  const auto a = f.decide("GET", "/api/keyed", {{"Host", "h"}, {"X-Api-Key", "a"}, {"x-api-key", "a"}});
  CHECK(a.ok());
  const auto b = f.decide("GET", "/api/keyed", {{"Host", "h"}, {"X-API-KEY", "a"}});
  CHECK(a.keys[0] == b.keys[0]);
  // Not keyed by that field here: repeating it is no business of the decision.
  CHECK(f.decide("GET", "/api/system/stats", {{"Host", "h"}, {"X-Api-Key", "a"}, {"X-Api-Key", "b"}})
            .ok());
}

TEST_CASE("a method override meets the route of the method it names") {
  fixture f;
  f.decide("GET", "/api/auth/register", {{"Host", "h"}, {"X-HTTP-Method-Override", "post"}});
  CHECK(f.route_name == "register");
  f.decide("PUT", "/api/auth/register", {{"Host", "h"}, {"X-Method-Override", "POST"}});
  CHECK(f.route_name == "register");
  f.decide("GET", "/api/auth/register", {{"Host", "h"}});
  CHECK(f.route_name == "default");
}

TEST_CASE("route matching options: a route can be strict, and a default can be set") {
  fixture f(std::string(base_yaml) + R"(
  - name: strict
    path: /Strict
    match: {case_sensitive: true, trailing_slash: strict}
)");
  f.decide("GET", "/Strict");
  CHECK(f.route_name == "strict");
  f.decide("GET", "/strict");
  CHECK(f.route_name == "default");
  f.decide("GET", "/Strict/");
  CHECK(f.route_name == "default");

  fixture strict_by_default(R"(
upstream: {address: 127.0.0.1:9000}
match: {case_sensitive: true}
routes:
  - name: stats
    path: /api/system/stats
)");
  strict_by_default.decide("GET", "/API/system/stats");
  CHECK(strict_by_default.route_name == "default");
  strict_by_default.decide("GET", "/api/system/stats/");
  CHECK(strict_by_default.route_name == "stats");  // trailing_slash keeps its default
}

TEST_CASE("paths: an operator may decode escaped slashes and read backslashes as slashes") {
  fixture f(R"(
upstream: {address: 127.0.0.1:9000}
paths: {escaped_slashes: decode, backslash: slash}
routes:
  - name: admin
    prefix: /api/admin/
    exempt: true
  - name: stats
    path: /api/system/stats
)");
  f.decide("GET", "/api/admin/..%2Fsystem/stats");
  CHECK(f.route_name == "stats");
  CHECK(f.path == "/api/system/stats");
  f.decide("GET", "/api/admin/..\\system\\stats");
  CHECK(f.route_name == "stats");
}
