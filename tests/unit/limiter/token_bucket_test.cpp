// The GCRA token bucket, on a manual clock: bursts, refill at exact edges, rounding.

#include "limiter/token_bucket.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>

#include "limiter/clock.hpp"

namespace {

using namespace sluice::limiter;
using namespace std::chrono_literals;

constexpr time_ns ms = 1'000'000;
constexpr time_ns second = 1'000 * ms;
constexpr time_ns minute = 60 * second;

verdict admit(const token_bucket& b, limit_state& s, time_ns now) {
  const verdict v = b.check(s, now);
  if (v.allowed) b.consume(s, now);
  return v;
}

// Admissions in a row at one instant, until the first refusal.
int drain(const token_bucket& b, limit_state& s, time_ns now) {
  int n = 0;
  while (admit(b, s, now).allowed) ++n;
  return n;
}

}  // namespace

TEST_CASE("a token bucket admits its burst at once, then one request per refill interval") {
  const token_bucket b(60, minute, 10);  // 60/minute, burst 10: one token a second
  REQUIRE(b.interval_ns() == second);
  limit_state s;
  manual_clock clock(7 * second);
  const time_ns t0 = clock.now();

  CHECK(drain(b, s, t0) == 10);
  for (int k = 1; k <= 30; ++k) {
    const time_ns edge = t0 + k * second;
    const verdict early = admit(b, s, edge - 1);
    CHECK_FALSE(early.allowed);
    CHECK(early.retry_after_ns == 1);
    CHECK(admit(b, s, edge).allowed);
    CHECK_FALSE(admit(b, s, edge).allowed);  // exactly one token came back
  }
}

TEST_CASE("an idle token bucket refills to its burst and never beyond") {
  const token_bucket b(60, minute, 10);
  limit_state s;
  CHECK(drain(b, s, 0) == 10);
  // Empty at 0, full again after burst x interval.
  CHECK(b.holds_state(s, 10 * second - 1));
  CHECK_FALSE(b.holds_state(s, 10 * second));
  CHECK(drain(b, s, 10 * second - 1) == 9);
  limit_state t;
  CHECK(drain(b, t, 0) == 10);
  CHECK(drain(b, t, 10 * second) == 10);
  CHECK(drain(b, t, 10 * second + 3 * 60 * minute) == 10);
}

TEST_CASE("the refill interval rounds up, so 7/second never admits more than burst + 70 in 10 s") {
  const token_bucket b(7, second, 7);
  CHECK(b.interval_ns() == 142'857'143);  // 1e9 / 7 = 142857142.86, rounded up
  limit_state s;
  int admitted = 0;
  for (time_ns now = 0; now <= 10 * second; now += ms)
    for (int i = 0; i < 3; ++i) admitted += admit(b, s, now).allowed ? 1 : 0;
  CHECK(admitted <= 7 + 70);
  // Rounding costs at most one admission over the run: the 70th refill lands 10 ns past 10 s.
  CHECK(admitted == 7 + 69);
}

TEST_CASE("an interval that divides exactly is not rounded") {
  CHECK(token_bucket(1000, minute, 1).interval_ns() == 60 * ms);
  CHECK(token_bucket(3, 9, 1).interval_ns() == 3);
  CHECK(token_bucket(3, 10, 1).interval_ns() == 4);
}

TEST_CASE("token bucket remaining counts tokens left and reset is the time to the next token") {
  const token_bucket b(60, minute, 10);
  limit_state s;

  verdict v = admit(b, s, 0);
  CHECK(v.allowed);
  CHECK(v.quota == 10);
  CHECK(v.remaining == 9);
  CHECK(v.reset_ns == second);
  CHECK(v.retry_after_ns == 0);

  for (std::uint64_t left = 8;; --left) {
    v = admit(b, s, 0);
    REQUIRE(v.allowed);
    CHECK(v.remaining == left);
    if (left == 0) break;
  }

  v = admit(b, s, 0);
  CHECK_FALSE(v.allowed);
  CHECK(v.quota == 10);
  CHECK(v.remaining == 0);
  CHECK(v.retry_after_ns == second);
  CHECK(v.reset_ns == second);

  // Half a token back: still refused, half a second to wait.
  v = admit(b, s, second / 2);
  CHECK_FALSE(v.allowed);
  CHECK(v.retry_after_ns == second / 2);

  // One and a half tokens back: one admission, and the next token is half a second away.
  v = admit(b, s, 3 * second / 2);
  CHECK(v.allowed);
  CHECK(v.remaining == 0);
  CHECK(v.reset_ns == second / 2);
  v = admit(b, s, 3 * second / 2);
  CHECK_FALSE(v.allowed);
  CHECK(v.retry_after_ns == second / 2);

  // Four seconds later: 4.5 tokens refilled, 4 whole ones usable.
  v = b.check(s, 11 * second / 2);
  CHECK(v.allowed);
  CHECK(v.remaining == 3);
  CHECK(v.reset_ns == second / 2);
  CHECK(drain(b, s, 11 * second / 2) == 4);
}

TEST_CASE("a burst larger than the rate lets a quiet client catch up, at the rate") {
  const token_bucket b(10, second, 40);  // the shipped example: 10/second, burst 40
  limit_state s;
  CHECK(drain(b, s, 0) == 40);
  CHECK(drain(b, s, second) == 10);
  CHECK(drain(b, s, second + 100 * ms) == 1);
  CHECK(drain(b, s, 5 * second + 100 * ms) == 40);
}

TEST_CASE("check consumes nothing from a token bucket") {
  const token_bucket b(60, minute, 2);
  limit_state s;
  for (int i = 0; i < 100; ++i) CHECK(b.check(s, 0).allowed);
  CHECK(s.value_ == 0);
  CHECK(drain(b, s, 0) == 2);
}
