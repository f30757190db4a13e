// Failed attempts per key per window: the throttle starts after N failures, ends with the
// window, counts keys apart, and stays bounded when addresses are sprayed.

#include "limiter/failure_throttle.hpp"

#include <doctest/doctest.h>

using namespace sluice;
using namespace sluice::limiter;
using namespace std::chrono_literals;

namespace {
constexpr time_ns minute = to_ns(60s);
const auto a = ip_address::v4(127, 0, 0, 2);
const auto b = ip_address::v4(127, 0, 0, 3);
}  // namespace

TEST_CASE("N failures in a window throttle the key until the window ends") {
  failure_throttle t(minute, 16);
  time_ns now = 1000;
  for (int i = 0; i < 3; ++i) {
    CHECK(t.throttled_for(a, 3, now) == 0);
    t.failed(a, now);
    now += to_ns(1s);
  }
  // The window began at the first failure (1000): it ends 60 s later.
  CHECK(t.throttled_for(a, 3, now) == 1000 + minute - now);
  CHECK(t.throttled_for(b, 3, now) == 0);
  CHECK(t.throttled_for(a, 3, 1000 + minute - 1) == 1);
  CHECK(t.throttled_for(a, 3, 1000 + minute) == 0);
  // A new window counts from its own first failure.
  t.failed(a, 1000 + minute);
  CHECK(t.throttled_for(a, 3, 1000 + minute) == 0);
}

TEST_CASE("the allowance is read per call, so a reload changes it at once") {
  failure_throttle t(minute, 16);
  for (int i = 0; i < 5; ++i) t.failed(a, 0);
  CHECK(t.throttled_for(a, 5, 1) > 0);
  CHECK(t.throttled_for(a, 6, 1) == 0);
}

TEST_CASE("a full table shares one overflow entry, and expired keys make room again") {
  failure_throttle t(minute, 2);
  t.failed(a, 0);
  t.failed(b, 0);
  CHECK(t.keys() == 2);
  // Sprayed addresses beyond the table all count in the overflow entry together.
  for (std::uint8_t i = 10; i < 13; ++i) t.failed(ip_address::v4(127, 0, 1, i), 0);
  CHECK(t.keys() == 2);
  CHECK(t.throttled_for(ip_address::v4(127, 0, 1, 99), 3, 1) > 0);
  CHECK(t.throttled_for(a, 3, 1) == 0);
  // Once their windows are over, new keys get entries of their own.
  t.failed(ip_address::v4(127, 0, 2, 1), minute);
  CHECK(t.keys() == 1);
  CHECK(t.throttled_for(ip_address::v4(127, 0, 1, 99), 3, minute) == 0);
}
