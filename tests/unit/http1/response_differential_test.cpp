// The differential between our response parser and Beast's (fuzz/response_differential.hpp),
// over the committed fuzz corpus: both accept or both refuse, and when both accept they agree
// on status, fields, body and where the message ends, except as the table of allowed
// differences says. The response_differential fuzz target runs the same comparison.

#include "response_differential.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

namespace {

using sluice::proof::compare;
using sluice::proof::feed_plan;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Whole, a byte at a time, and the fuzz target's own plan; each as a GET and as a HEAD.
std::vector<feed_plan> plans_for(std::string_view wire) {
  std::vector<feed_plan> plans;
  for (const bool head : {false, true}) {
    plans.push_back(feed_plan{{}, 4096, head});
    plans.push_back(feed_plan{{1}, 1, head});
    plans.push_back(sluice::proof::plan_from(wire, head));
  }
  return plans;
}

}  // namespace

TEST_CASE("response differential: ours and Beast agree on the committed corpus") {
  const std::filesystem::path dir = SLUICE_FUZZ_CORPUS_DIR "/response_parser";
  REQUIRE(std::filesystem::is_directory(dir));
  std::size_t files = 0, accepted_by_both = 0;
  std::set<std::string_view> rows_used;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string wire = read_file(entry.path());
    ++files;
    for (const auto& plan : plans_for(wire)) {
      const auto r = compare(wire, plan);
      CAPTURE(entry.path().filename().string());
      CAPTURE(r.detail);
      CHECK(r.ok());
      if (r.allowed) rows_used.insert(r.allowed->name);
      if (r.agree && sluice::proof::parse_ours(wire, plan).accepted) ++accepted_by_both;
    }
  }
  CHECK(files >= 30);
  // The corpus must hold messages both accept, not only refusals.
  CHECK(accepted_by_both >= files);
  MESSAGE(files << " corpus files; allowed differences met: " << rows_used.size());
}

TEST_CASE("response differential: every allowed difference is needed, with an example") {
  struct example {
    std::string_view row;
    std::string_view wire;
  };
  const example examples[] = {
      {"obs-fold", "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\nContent-Length: 0\r\n\r\n"},
      {"status below 100", "HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n"},
      {"Content-Length beside Transfer-Encoding",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc"},
      {"status line without a reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"},
      {"Connection that is not a token list",
       "HTTP/1.1 200 OK\r\nConnection: close (really)\r\nContent-Length: 0\r\n\r\n"},
      {"empty elements in a Content-Length list",
       "HTTP/1.1 200 OK\r\nContent-Length: 3, , 3\r\n\r\nabc"},
      {"chunk extensions",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3; a b\r\nabc\r\n0\r\n\r\n"},
      {"chunk extensions",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"\x01\"\r\nabc\r\n0\r\n\r\n"},
      {"trailer fields",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
       "Content-Length: 3\r\n\r\n"},
      {"HTTP/1.0 with both close and keep-alive",
       "HTTP/1.0 200 OK\r\nConnection: close\r\nProxy-Connection: keep-alive\r\n"
       "Content-Length: 0\r\n\r\n"},
      {"Transfer-Encoding that is not a token list",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\xff>\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
  };
  std::set<std::string_view> covered;
  for (const auto& e : examples) {
    const auto r = compare(e.wire, feed_plan{});
    CAPTURE(e.row);
    CAPTURE(r.detail);
    CHECK_FALSE(r.agree);
    REQUIRE(r.allowed != nullptr);
    CHECK(r.allowed->name == e.row);
    covered.insert(r.allowed->name);
  }
  // Each row of the table has its example here: a row nothing needs should go.
  for (const auto& row : sluice::proof::allowed_differences()) {
    CAPTURE(row.name);
    CHECK(covered.count(row.name) == 1);
  }
}
