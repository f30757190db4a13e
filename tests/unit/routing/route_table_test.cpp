// Route matching: exact, prefix, glob, methods, order, the default route.

#include "routing/route_table.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/config.hpp"

namespace {

using namespace sluice;
using routing::route_table;

config::route make_route(std::string name, config::match_kind match, std::string pattern,
                         std::vector<std::string> methods = {}) {
  config::route r;
  r.name = std::move(name);
  r.match = match;
  r.pattern = std::move(pattern);
  r.methods = std::move(methods);
  // The tests below are about patterns as written; the loose defaults have their own.
  r.options.case_sensitive = true;
  r.options.ignore_trailing_slash = false;
  return r;
}

config::config make_config(std::vector<config::route> routes) {
  config::config c;
  c.routes = std::move(routes);
  c.default_route = make_route("default", config::match_kind::prefix, "/");
  return c;
}

using enum config::match_kind;

}  // namespace

TEST_CASE("an exact route matches its path and nothing else") {
  const auto cfg = make_config({make_route("stats", exact, "/api/system/stats")});
  const route_table t(cfg);
  CHECK(t.match("GET", {}, "/api/system/stats").name == "stats");
  CHECK(t.match("GET", {}, "/api/system/stats/").name == "default");
  CHECK(t.match("GET", {}, "/api/system/stat").name == "default");
  CHECK(t.match("GET", {}, "/api/system/statsx").name == "default");
  CHECK(t.match("GET", {}, "/api/system/stats/x").name == "default");
}

TEST_CASE("a prefix route matches every path that starts with its pattern") {
  const auto cfg = make_config({make_route("admin", prefix, "/api/admin/")});
  const route_table t(cfg);
  CHECK(t.match("GET", {}, "/api/admin/").name == "admin");
  CHECK(t.match("GET", {}, "/api/admin/users/1").name == "admin");
  CHECK(t.match("GET", {}, "/api/admin").name == "default");
  CHECK(t.match("GET", {}, "/api/administrator").name == "default");
  CHECK(t.match("GET", {}, "/x/api/admin/").name == "default");
}

TEST_CASE("a glob star matches within one segment only") {
  const auto cfg = make_config({make_route("files", glob, "/api/projects/*/files")});
  const route_table t(cfg);
  CHECK(t.match("GET", {}, "/api/projects/42/files").name == "files");
  CHECK(t.match("GET", {}, "/api/projects/abc-def/files").name == "files");
  CHECK(t.match("GET", {}, "/api/projects/42/x/files").name == "default");
  CHECK(t.match("GET", {}, "/api/projects/42/files/1").name == "default");
  CHECK(t.match("GET", {}, "/api/projects/42/file").name == "default");
}

TEST_CASE("a star may stand for part of a segment") {
  const auto cfg = make_config({make_route("reports", glob, "/api/report-*.csv")});
  const route_table t(cfg);
  CHECK(t.match("GET", {}, "/api/report-2024.csv").name == "reports");
  CHECK(t.match("GET", {}, "/api/report-.csv").name == "reports");
  CHECK(t.match("GET", {}, "/api/report-2024/x.csv").name == "default");
  CHECK(t.match("GET", {}, "/api/report-2024.csvx").name == "default");
}

TEST_CASE("a glob double star matches across segments") {
  const auto cfg = make_config({make_route("deep", glob, "/api/projects/*/files/**"),
                                make_route("stats", glob, "/api/**/stats")});
  const route_table t(cfg);
  CHECK(t.match("GET", {}, "/api/projects/42/files/a").name == "deep");
  CHECK(t.match("GET", {}, "/api/projects/42/files/a/b/c.txt").name == "deep");
  CHECK(t.match("GET", {}, "/api/projects/42/files/").name == "deep");
  CHECK(t.match("GET", {}, "/api/projects/42/other/a").name == "default");
  CHECK(t.match("GET", {}, "/api/v1/stats").name == "stats");
  CHECK(t.match("GET", {}, "/api/v1/system/stats").name == "stats");
  CHECK(t.match("GET", {}, "/api/v1/system/stats/x").name == "default");
  CHECK(t.match("GET", {}, "/other/v1/stats").name == "default");
}

TEST_CASE("a route with methods matches only those methods") {
  const auto cfg = make_config({make_route("jobs-post", exact, "/api/jobs", {"POST", "PUT"}),
                                make_route("jobs-any", exact, "/api/jobs")});
  const route_table t(cfg);
  CHECK(t.match("POST", {}, "/api/jobs").name == "jobs-post");
  CHECK(t.match("PUT", {}, "/api/jobs").name == "jobs-post");
  CHECK(t.match("GET", {}, "/api/jobs").name == "jobs-any");
  CHECK(t.match("POST", {}, "/api/other").name == "default");
}

TEST_CASE("HEAD is judged by a route that lists GET, and method overrides count too") {
  const auto cfg = make_config({make_route("read", exact, "/api/x", {"GET"}),
                                make_route("write", exact, "/api/x", {"POST"})});
  const route_table t(cfg);
  CHECK(t.match("HEAD", {}, "/api/x").name == "read");
  CHECK(t.match("OPTIONS", {}, "/api/x").name == "default");
  // A GET that a backend would run as POST (X-HTTP-Method-Override) meets the POST route.
  const std::string_view post[] = {"POST"};
  CHECK(t.match("GET", post, "/api/x").name == "write");
  CHECK(t.match("PUT", post, "/api/x").name == "write");
  // An override no route lists leaves the request line's method to decide.
  const std::string_view patch[] = {"PATCH"};
  CHECK(t.match("GET", patch, "/api/x").name == "read");
}

TEST_CASE("loose matching: case and a trailing slash do not count unless the route says so") {
  auto loose = [](std::string name, config::match_kind m, std::string pattern) {
    config::route r;
    r.name = std::move(name);
    r.match = m;
    r.pattern = std::move(pattern);
    return r;  // the defaults: case-insensitive, trailing slash ignored
  };
  auto cfg = make_config({loose("stats", exact, "/api/system/stats"),
                          loose("admin", prefix, "/api/admin/"),
                          loose("files", glob, "/api/files/*/meta/"),
                          make_route("strict", exact, "/Strict")});
  const route_table t(cfg);
  CHECK(t.match("GET", {}, "/API/System/STATS").name == "stats");
  CHECK(t.match("GET", {}, "/api/system/stats/").name == "stats");
  CHECK(t.match("GET", {}, "/api/system/statsx").name == "default");
  CHECK(t.match("GET", {}, "/API/ADMIN/users").name == "admin");
  CHECK(t.match("GET", {}, "/api/admin").name == "admin");
  CHECK(t.match("GET", {}, "/api/administrator").name == "default");
  CHECK(t.match("GET", {}, "/api/FILES/a/Meta").name == "files");
  CHECK(t.match("GET", {}, "/api/files/a/meta/").name == "files");
  CHECK(t.match("GET", {}, "/Strict").name == "strict");
  CHECK(t.match("GET", {}, "/strict").name == "default");
  CHECK(t.match("GET", {}, "/Strict/").name == "default");
}

TEST_CASE("the first matching route wins, in config order") {
  const auto specific_first = make_config({make_route("stats", exact, "/api/system/stats"),
                                           make_route("system", prefix, "/api/system/")});
  const route_table a(specific_first);
  CHECK(a.match("GET", {}, "/api/system/stats").name == "stats");
  CHECK(a.match("GET", {}, "/api/system/ports").name == "system");

  const auto broad_first = make_config({make_route("system", prefix, "/api/system/"),
                                        make_route("stats", exact, "/api/system/stats")});
  const route_table b(broad_first);
  CHECK(b.match("GET", {}, "/api/system/stats").name == "system");
}

TEST_CASE("what no route matches goes to the default route, itself from the config") {
  const auto cfg = make_config({make_route("health", exact, "/health")});
  const route_table t(cfg);
  const config::route& d = t.match("GET", {}, "/anything/else");
  CHECK(&d == &cfg.default_route);
  CHECK(&t.match("GET", {}, "/health") == &cfg.routes[0]);
  const auto empty = make_config({});
  CHECK(&route_table(empty).match("DELETE", {}, "/") == &empty.default_route);
}

TEST_CASE("a long adversarial path against a pattern of several double stars finishes") {
  // A backtracking matcher goes exponential here; the NFA is linear in the path.
  const auto cfg = make_config({make_route("ab", glob, "/**/a/**/b"),
                                make_route("many", glob, "/**/a/**/a/**/a/**/a/**/a/**/c")});
  const route_table t(cfg);
  std::string path;
  for (int i = 0; i < 20'000; ++i) path += "/a";
  CHECK(t.match("GET", {}, path).name == "default");
  CHECK(t.match("GET", {}, path + "/b").name == "ab");
  CHECK(t.match("GET", {}, path + "/c").name == "many");
  std::string stars(50'000, 'a');
  CHECK(t.match("GET", {}, "/" + stars + "/x").name == "default");
}

TEST_CASE("a glob longer than the inline state buffer still matches") {
  std::string pattern = "/";
  std::string path = "/";
  for (int i = 0; i < 150; ++i) {
    pattern += "s*/";
    path += "seg/";
  }
  pattern += "**";
  path += "tail/x";
  const auto cfg = make_config({make_route("long", glob, pattern)});
  const route_table t(cfg);
  CHECK(t.match("GET", {}, path).name == "long");
  CHECK(t.match("GET", {}, "/seg/tail").name == "default");
}
