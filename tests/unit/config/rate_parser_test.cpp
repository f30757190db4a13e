// Rate text: named units, plurals, short units, durations, and the bounds.
#include "config/rate_parser.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sluice::config::duration;
using sluice::config::format_rate;
using sluice::config::parse_rate;
using sluice::config::rate;

namespace {

std::string rate_error(std::string_view text) {
  std::string why;
  const auto r = parse_rate(text, &why);
  return r ? "<parsed>" : why;
}

}  // namespace

TEST_CASE("parse_rate reads named periods in every spelling") {
  CHECK(parse_rate("60/minute") == rate{60, 1min});
  CHECK(parse_rate("60/minutes") == rate{60, 1min});
  CHECK(parse_rate("60/m") == rate{60, 1min});
  CHECK(parse_rate("10/second") == rate{10, 1s});
  CHECK(parse_rate("10/s") == rate{10, 1s});
  CHECK(parse_rate("1000/hour") == rate{1000, 1h});
  CHECK(parse_rate("5/d") == rate{5, 24h});
  CHECK(parse_rate("5 / days") == rate{5, 24h});
}

TEST_CASE("parse_rate reads a duration as the period") {
  CHECK(parse_rate("5/30s") == rate{5, 30s});
  CHECK(parse_rate("100/1m30s") == rate{100, 90s});
  CHECK(parse_rate("1/1.5s") == rate{1, 1500ms});
  CHECK(parse_rate("1/365d") == rate{1, 365 * 24h});
}

TEST_CASE("parse_rate refuses malformed and out-of-range rates") {
  CHECK(rate_error("60") == "expected COUNT/PERIOD, such as 60/minute or 5/30s");
  CHECK(rate_error("60/minnute") == "unknown unit (second, minute, hour, day)");
  CHECK(rate_error("sixty/minute") == "count before \"/\" is not a whole number");
  CHECK(rate_error("-1/minute") == "count before \"/\" is not a whole number");
  CHECK(rate_error("0/minute") == "count must be between 1 and 1000000000");
  CHECK(rate_error("1000000001/second") == "count must be between 1 and 1000000000");
  CHECK(rate_error("99999999999999999999/second") == "count must be between 1 and 1000000000");
  CHECK(rate_error("5/") ==
        "missing period after \"/\" (second, minute, hour, day, or a duration such as 30s)");
  CHECK(rate_error("5/30") == "missing unit (ms, s, m, h, d)");
  CHECK(rate_error("5/0s") == "period must be greater than zero");
  CHECK(rate_error("5/366d") == "period must be at most 1 year (365d)");
}

TEST_CASE("format_rate names whole units and writes other periods as durations") {
  CHECK(format_rate({60, 1min}) == "60/minute");
  CHECK(format_rate({10, 1s}) == "10/second");
  CHECK(format_rate({3, 1h}) == "3/hour");
  CHECK(format_rate({1, 24h}) == "1/day");
  CHECK(format_rate({5, 30s}) == "5/30s");
  CHECK(format_rate({100, 90s}) == "100/1m30s");
}
