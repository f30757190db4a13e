// Duration text: units, decimals, combinations, and what is refused.
#include "config/duration_parser.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sluice::config::duration;
using sluice::config::format_duration;
using sluice::config::parse_duration;

namespace {

std::string duration_error(std::string_view text) {
  std::string why;
  const auto d = parse_duration(text, &why);
  return d ? "<parsed>" : why;
}

}  // namespace

TEST_CASE("parse_duration reads each unit") {
  CHECK(parse_duration("250ms") == duration(250ms));
  CHECK(parse_duration("30s") == duration(30s));
  CHECK(parse_duration("2m") == duration(2min));
  CHECK(parse_duration("3h") == duration(3h));
  CHECK(parse_duration("1d") == duration(24h));
  CHECK(parse_duration("0s") == duration(0));
}

TEST_CASE("parse_duration reads decimals and combinations") {
  CHECK(parse_duration("1.5s") == duration(1500ms));
  CHECK(parse_duration("0.25m") == duration(15s));
  CHECK(parse_duration("1.0005ms") == duration(1000500ns));
  CHECK(parse_duration("1m30s") == duration(90s));
  CHECK(parse_duration("1d2h3m4s5ms") == duration(24h + 2h + 3min + 4s + 5ms));
}

TEST_CASE("parse_duration refuses what it cannot read one way") {
  CHECK(duration_error("") == "empty duration");
  CHECK(duration_error("30") == "missing unit (ms, s, m, h, d)");
  CHECK(duration_error("30sec") == "unknown unit \"sec\" (ms, s, m, h, d)");
  CHECK(duration_error("30S") == "unknown unit \"S\" (ms, s, m, h, d)");
  CHECK(duration_error("-5s") == "expected a number followed by a unit (ms, s, m, h, d)");
  CHECK(duration_error("s") == "expected a number followed by a unit (ms, s, m, h, d)");
  CHECK(duration_error("1.s") == "malformed number: no digits after the decimal point");
  CHECK(duration_error("30s1m") == "units must go from largest to smallest, each once (e.g. 1m30s)");
  CHECK(duration_error("1s1s") == "units must go from largest to smallest, each once (e.g. 1m30s)");
  CHECK(duration_error("1 s") == "unexpected \" \" after a number; expected a unit (ms, s, m, h, d)");
  CHECK(duration_error("1.0000000001s") == "too many decimals (at most 9)");
  CHECK(duration_error("999999999999999999d") == "duration too large");
}

TEST_CASE("format_duration writes the shortest text that reads back") {
  CHECK(format_duration(0s) == "0s");
  CHECK(format_duration(90s) == "1m30s");
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(1500ms) == "1s500ms");
  CHECK(format_duration(24h) == "1d");
  CHECK(format_duration(1000500ns) == "1.0005ms");
  for (const duration d : {duration(90s), duration(1500ms), duration(1000500ns), duration(49h + 1ms)}) {
    CHECK(parse_duration(format_duration(d)) == d);
  }
}
