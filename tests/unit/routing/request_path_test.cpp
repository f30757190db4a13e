// Path normalisation: what the backend will route on, so what sluice must match on.

#include "routing/request_path.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace {

using sluice::routing::normalize_path;

std::string norm(std::string_view target) {
  std::string scratch;
  return std::string(normalize_path(target, scratch));
}

// True when the result points into `target` itself: nothing was copied.
bool is_view_of_input(std::string_view target) {
  std::string scratch;
  const std::string_view out = normalize_path(target, scratch);
  return out.data() >= target.data() && out.data() + out.size() <= target.data() + target.size();
}

}  // namespace

TEST_CASE("the query and the fragment are not part of the path") {
  CHECK(norm("/api/users?id=1") == "/api/users");
  CHECK(norm("/api/users?next=/api/admin/../x") == "/api/users");
  CHECK(norm("/api/users#top") == "/api/users");
  CHECK(norm("/api/users?") == "/api/users");
  CHECK(norm("/?a=b") == "/");
}

TEST_CASE("percent-encoded unreserved characters are decoded, reserved ones kept") {
  CHECK(norm("/api/system/%73tats") == "/api/system/stats");
  CHECK(norm("/api/system/%73%74%61%74%73") == "/api/system/stats");
  CHECK(norm("/api/%7Euser/%2D%2e%5F") == "/api/~user/-._");
  // An encoded '/' stays inside its segment.
  CHECK(norm("/api/system%2Fstats") == "/api/system%2Fstats");
  CHECK(norm("/api/system%2fstats") == "/api/system%2fstats");
  CHECK(norm("/a%20b") == "/a%20b");
  CHECK(norm("/a%3Fb") == "/a%3Fb");  // an encoded '?' is not a query
  CHECK(norm("/a%2573") == "/a%2573");  // decoded once only: %25 is '%', reserved
  CHECK(norm("/a%zz") == "/a%zz");
  CHECK(norm("/a%7") == "/a%7");
  CHECK(norm("/a%") == "/a%");
  CHECK(norm("/a%73") == "/as");  // an escape that ends the path
}

TEST_CASE("dot segments are resolved and empty segments collapsed") {
  CHECK(norm("/api/x/../system/stats") == "/api/system/stats");
  CHECK(norm("/api/./system/./stats") == "/api/system/stats");
  CHECK(norm("/api//system///stats") == "/api/system/stats");
  CHECK(norm("//api/system/stats") == "/api/system/stats");
  CHECK(norm("/api/system/stats/..") == "/api/system/");
  CHECK(norm("/api/system/stats/.") == "/api/system/stats/");
  CHECK(norm("/api/system/stats/") == "/api/system/stats/");
  CHECK(norm("/../../api/stats") == "/api/stats");  // never above the root
  CHECK(norm("/..") == "/");
  CHECK(norm("/.") == "/");
  CHECK(norm("//") == "/");
  CHECK(norm("/a/b/../../..") == "/");
  CHECK(norm("/api/%2e%2e/admin") == "/admin");  // encoded dots are dots once decoded
  CHECK(norm("/api/.%2E/admin") == "/admin");
  CHECK(norm("/api/...") == "/api/...");  // three dots are a name
  CHECK(norm("/api/.hidden") == "/api/.hidden");
  CHECK(norm("/api/..x/y") == "/api/..x/y");
}

TEST_CASE("absolute-form targets are reduced to their path") {
  CHECK(norm("http://example.com/api/system/stats") == "/api/system/stats");
  CHECK(norm("https://example.com:8443/api/x/../stats?x=1") == "/api/stats");
  CHECK(norm("http://example.com") == "/");
  CHECK(norm("http://example.com?x=1") == "/");
}

TEST_CASE("targets without a leading slash get one") {
  CHECK(norm("") == "/");
  CHECK(norm("api/stats") == "/api/stats");
  CHECK(norm("*") == "/*");
}

TEST_CASE("a path that needs no change is returned as a view of the input") {
  CHECK(is_view_of_input("/api/system/stats"));
  CHECK(is_view_of_input("/api/system/stats?with=query"));
  CHECK(is_view_of_input("/"));
  CHECK(is_view_of_input("/api/users/"));
  CHECK(is_view_of_input("/a.b/c..d/e."));
  CHECK(is_view_of_input("http://example.com/api/system/stats"));

  const std::string target = "/api/system/stats?x=1";
  std::string scratch;
  const std::string_view out = normalize_path(target, scratch);
  CHECK(out.data() == target.data());
  CHECK(out == "/api/system/stats");
  CHECK(scratch.empty());

  const std::string absolute = "http://h/api";
  const std::string_view path = normalize_path(absolute, scratch);
  CHECK(path.data() == absolute.data() + 8);
}

TEST_CASE("a path that needs work is written to the scratch buffer") {
  const std::string target = "/api/%73tats";
  std::string scratch;
  const std::string_view out = normalize_path(target, scratch);
  CHECK(out == "/api/stats");
  CHECK(out.data() == scratch.data());
  CHECK_FALSE(is_view_of_input("/api//stats"));
  CHECK_FALSE(is_view_of_input("/api/./stats"));
}

TEST_CASE("normalising a normalised path changes nothing") {
  for (const char* target : {"/api/x/../system/%73tats", "//a/./b/../c/", "/a%2Fb/%7e", "/..",
                             "http://h/a/b?c"}) {
    CAPTURE(target);
    const std::string once = norm(target);
    CHECK(norm(once) == once);
  }
}
