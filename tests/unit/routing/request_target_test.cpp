// The canonical target: what the backend will route on, so what sluice must judge and forward.

#include "routing/request_target.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace {

using namespace sluice;
using routing::canonicalize;
using routing::target_problem;

struct result {
  target_problem problem;
  std::string path, query, match;
};

result canon(std::string_view target, config::path_settings settings = {}) {
  routing::target_scratch scratch;
  const auto t = canonicalize(target, settings, scratch);
  return {t.problem, std::string(t.path), std::string(t.query), std::string(t.match_path)};
}

std::string path(std::string_view target, config::path_settings settings = {}) {
  const auto r = canon(target, settings);
  REQUIRE_MESSAGE(r.problem == target_problem::none, target);
  return r.path;
}

std::string match(std::string_view target, config::path_settings settings = {}) {
  const auto r = canon(target, settings);
  REQUIRE_MESSAGE(r.problem == target_problem::none, target);
  return r.match;
}

target_problem problem(std::string_view target, config::path_settings settings = {}) {
  return canon(target, settings).problem;
}

// True when the result points into `target` itself: nothing was copied.
bool is_view_of_input(std::string_view target) {
  routing::target_scratch scratch;
  const auto t = canonicalize(target, {}, scratch);
  return t.path.data() >= target.data() && t.path.data() + t.path.size() <= target.data() + target.size();
}

}  // namespace

TEST_CASE("the query is kept as written and is not part of the path") {
  const auto r = canon("/api/users?id=1&next=/api/admin/../x%2F");
  CHECK(r.problem == target_problem::none);
  CHECK(r.path == "/api/users");
  CHECK(r.query == "?id=1&next=/api/admin/../x%2F");
  CHECK(canon("/?a=b").path == "/");
  CHECK(canon("/api/users?").query == "?");
  CHECK(canon("/a%2e/../b?x").query == "?x");
}

TEST_CASE("percent-encoded unreserved characters are decoded, others kept in upper case") {
  CHECK(path("/api/system/%73tats") == "/api/system/stats");
  CHECK(path("/api/system/%73%74%61%74%73") == "/api/system/stats");
  CHECK(path("/api/%7Euser/%2D%2e%5F") == "/api/~user/-._");
  CHECK(path("/a%20b") == "/a%20b");
  CHECK(match("/a%20b") == "/a b");  // routes see what the backend routes on
  CHECK(path("/a%3fb") == "/a%3Fb");  // an encoded '?' is not a query
  CHECK(match("/a%3fb") == "/a?b");
  CHECK(path("/a%73") == "/as");  // an escape that ends the path
  CHECK(path("/caf%C3%A9") == "/caf%C3%A9");
  CHECK(match("/caf%c3%a9") == "/caf\xc3\xa9");
}

TEST_CASE("raw non-ASCII bytes are escaped; bytes that are not UTF-8 are refused") {
  CHECK(path("/caf\xc3\xa9") == "/caf%C3%A9");
  CHECK(match("/caf\xc3\xa9") == "/caf\xc3\xa9");
  CHECK(problem("/a%C0%AF") == target_problem::invalid_utf8);  // overlong "/"
  CHECK(problem("/a%E0%80%AF") == target_problem::invalid_utf8);
  CHECK(problem("/a%C0%AE%C0%AE/x") == target_problem::invalid_utf8);  // overlong ".."
  CHECK(problem("/a%ED%A0%80") == target_problem::invalid_utf8);  // a surrogate
  CHECK(problem("/a%F4%90%80%80") == target_problem::invalid_utf8);  // past U+10FFFF
  CHECK(problem("/a%E9") == target_problem::invalid_utf8);  // Latin-1
  CHECK(problem("/a\xc3") == target_problem::invalid_utf8);  // cut short
  CHECK(problem("/a%F0%9F%98%80") == target_problem::none);
}

TEST_CASE("ambiguous spellings are refused by default") {
  CHECK(problem("/api/system%2Fstats") == target_problem::escaped_slash);
  CHECK(problem("/api/system%2fstats") == target_problem::escaped_slash);
  CHECK(problem("/api/system/stats%2F") == target_problem::escaped_slash);
  CHECK(problem("/api/admin/..%5Csystem/stats") == target_problem::escaped_slash);
  CHECK(problem("/api/admin/..\\system\\stats") == target_problem::backslash);
  CHECK(problem("/api/system/stats%00") == target_problem::control_character);
  CHECK(problem("/api/system/stats%0d%0aX:1") == target_problem::control_character);
  CHECK(problem("/api/system/stats%7F") == target_problem::control_character);
  CHECK(problem("/api/sys\ttem") == target_problem::control_character);
  CHECK(problem("/a%zz") == target_problem::malformed_escape);
  CHECK(problem("/a%7") == target_problem::malformed_escape);
  CHECK(problem("/a%") == target_problem::malformed_escape);
  CHECK(problem("/api/system%252Fstats") == target_problem::double_encoding);
  CHECK(problem("/a%2573") == target_problem::double_encoding);
  // The digits after %25 escaped themselves: forwarded as "%2541", decoded twice "A".
  CHECK(problem("/a%25%34%31") == target_problem::double_encoding);
  CHECK(problem("/a%25%341") == target_problem::double_encoding);
  CHECK(problem("/a%254%31") == target_problem::double_encoding);
  CHECK(problem("/api/%25<2e%25%352lT") == target_problem::double_encoding);  // the fuzzer's
  CHECK(path("/a%25%47%48") == "/a%25GH");  // not hex digits: one decoding, one meaning
  CHECK(problem("/api/system/stats#x") == target_problem::fragment);
  CHECK(problem("/api/system/stats?x#y") == target_problem::fragment);
  CHECK(problem("/api/admin/..;/system/stats") == target_problem::dot_params);
  CHECK(problem("/api/admin/.;x/stats") == target_problem::dot_params);
  CHECK(problem("/api/admin/..%3B/system/stats") == target_problem::dot_params);
  CHECK(problem("/x?a\x01") == target_problem::control_character);
  // A literal "%" written as %25 is one, as long as no hex pair follows it.
  CHECK(path("/100%25") == "/100%25");
  CHECK(match("/100%25-off") == "/100%-off");
}

TEST_CASE("an operator can choose what an escaped slash or a backslash means") {
  config::path_settings decode;
  decode.escaped_slashes = config::escaped_slash_action::decode;
  CHECK(path("/api/system%2Fstats", decode) == "/api/system/stats");
  CHECK(path("/api/admin/..%2Fsystem/stats", decode) == "/api/system/stats");
  CHECK(path("/api/admin/..%5Csystem/stats", decode) == "/api/system/stats");
  CHECK(path("/api/system/stats%2F", decode) == "/api/system/stats/");

  config::path_settings keep;
  keep.escaped_slashes = config::escaped_slash_action::keep;
  CHECK(path("/files/a%2fb", keep) == "/files/a%2Fb");
  CHECK(match("/files/a%2fb", keep) == "/files/a%2Fb");  // one segment
  CHECK(path("/api/admin/..%2Fsystem/stats", keep) == "/api/admin/..%2Fsystem/stats");

  config::path_settings slash;
  slash.backslash = config::backslash_action::slash;
  CHECK(path("/api/admin/..\\system\\stats", slash) == "/api/system/stats");
}

TEST_CASE("dot segments are resolved and empty segments merged") {
  CHECK(path("/api/x/../system/stats") == "/api/system/stats");
  CHECK(path("/api/./system/./stats") == "/api/system/stats");
  CHECK(path("/api//system///stats") == "/api/system/stats");
  CHECK(path("//api/system/stats") == "/api/system/stats");
  CHECK(path("/api/system/stats/..") == "/api/system/");
  CHECK(path("/api/system/stats/.") == "/api/system/stats/");
  CHECK(path("/api/system/stats/") == "/api/system/stats/");
  CHECK(path("/../../api/stats") == "/api/stats");  // never above the root
  CHECK(path("/..") == "/");
  CHECK(path("/.") == "/");
  CHECK(path("//") == "/");
  CHECK(path("/a/b/../../..") == "/");
  CHECK(path("/api/%2e%2e/admin") == "/admin");  // encoded dots are dots once decoded
  CHECK(path("/api/.%2E/admin") == "/admin");
  CHECK(path("/api/...") == "/api/...");  // three dots are a name
  CHECK(path("/api/.hidden") == "/api/.hidden");
  CHECK(path("/api/..x/y") == "/api/..x/y");
}

TEST_CASE(";params are dropped for matching and kept in what is forwarded") {
  CHECK(path("/api/system/stats;jsessionid=1") == "/api/system/stats;jsessionid=1");
  CHECK(match("/api/system/stats;jsessionid=1") == "/api/system/stats");
  CHECK(match("/api;a/system;b/stats") == "/api/system/stats");
  CHECK(match("/api/x;y/../system/stats") == "/api/system/stats");
  CHECK(path("/api/x;y/../system/stats") == "/api/system/stats");
  CHECK(match("/api/system/stats%3Bx") == "/api/system/stats");  // decoded, it is one too

  config::path_settings keep;
  keep.path_params = config::path_params_action::keep;
  CHECK(match("/api/system/stats;x", keep) == "/api/system/stats;x");
  CHECK(problem("/api/..;/x", keep) == target_problem::dot_params);  // Tomcat's ".." all the same
}

TEST_CASE("absolute-form is reduced to origin-form; other forms are refused") {
  const auto r = canon("http://example.com/api/system/stats?x=1");
  CHECK(r.problem == target_problem::none);
  CHECK(r.path == "/api/system/stats");
  CHECK(r.query == "?x=1");
  routing::target_scratch scratch;
  const auto t = canonicalize("HTTPS://example.com:8443/api/x/../stats", {}, scratch);
  CHECK(t.absolute_form);
  CHECK(t.authority == "example.com:8443");
  CHECK(t.path == "/api/stats");
  CHECK(path("http://example.com") == "/");
  CHECK(canon("http://example.com?x=1").query == "?x=1");
  CHECK(problem("http:/api/auth/register") == target_problem::not_origin_form);
  CHECK(problem("http://user@example.com/") == target_problem::not_origin_form);
  CHECK(problem("ftp://example.com/") == target_problem::not_origin_form);
  CHECK(problem("api/stats") == target_problem::not_origin_form);
  CHECK(problem("example.com:443") == target_problem::not_origin_form);
  CHECK(problem("") == target_problem::not_origin_form);
  CHECK(path("*") == "*");
}

TEST_CASE("a path that needs no change is returned as a view of the input") {
  CHECK(is_view_of_input("/api/system/stats"));
  CHECK(is_view_of_input("/api/system/stats?with=query"));
  CHECK(is_view_of_input("/"));
  CHECK(is_view_of_input("/api/users/"));
  CHECK(is_view_of_input("/a.b/c..d/e."));
  CHECK(is_view_of_input("http://example.com/api/system/stats"));
  CHECK_FALSE(is_view_of_input("/api//stats"));
  CHECK_FALSE(is_view_of_input("/api/./stats"));
  CHECK_FALSE(is_view_of_input("/api/%73tats"));
}

TEST_CASE("canonicalising a canonical path changes nothing") {
  for (const char* target : {"/api/x/../system/%73tats", "//a/./b/../c/", "/a%3ab/%7e", "/..",
                             "http://h/a/b?c", "/caf\xc3\xa9/x;y", "/a%20b/"}) {
    CAPTURE(target);
    const auto once = canon(target);
    REQUIRE(once.problem == target_problem::none);
    const auto twice = canon(once.path);
    CHECK(twice.path == once.path);
    CHECK(twice.match == once.match);
  }
}

TEST_CASE("every problem has a message") {
  for (int p = 1; p < static_cast<int>(target_problem::count_); ++p)
    CHECK_FALSE(routing::describe(static_cast<target_problem>(p)).empty());
}
