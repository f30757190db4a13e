// The exact sliding-window log, on a manual clock: every edge is checked to the nanosecond.

#include "limiter/sliding_window.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "limiter/clock.hpp"

namespace {

using namespace sluice::limiter;
using namespace std::chrono_literals;

constexpr time_ns ms = 1'000'000;
constexpr time_ns minute = 60'000 * ms;

// check() and, when it allows, consume() at the same instant: what the limiter does per request.
verdict admit(const sliding_window& w, limit_state& s, time_ns now) {
  const verdict v = w.check(s, now);
  if (v.allowed) w.consume(s, now);
  return v;
}

}  // namespace

TEST_CASE("a sliding window admits count requests, then rejects the next one") {
  const sliding_window w(3, minute);
  limit_state s;
  manual_clock clock(1'000 * ms);
  for (int i = 0; i < 3; ++i) {
    CHECK(admit(w, s, clock.now()).allowed);
    clock.advance(1ms);
  }
  const verdict v = admit(w, s, clock.now());
  CHECK_FALSE(v.allowed);
  CHECK(v.remaining == 0);
  CHECK(v.quota == 3);
}

TEST_CASE("the window is half-open: a slot frees exactly one period after the oldest admission") {
  const sliding_window w(2, minute);
  limit_state s;
  const time_ns t0 = 5 * ms;
  REQUIRE(admit(w, s, t0).allowed);
  REQUIRE(admit(w, s, t0 + 10 * ms).allowed);

  const verdict early = admit(w, s, t0 + minute - 1);
  CHECK_FALSE(early.allowed);
  CHECK(early.retry_after_ns == 1);

  const verdict on_edge = admit(w, s, t0 + minute);
  CHECK(on_edge.allowed);
  CHECK(on_edge.remaining == 0);

  // The second admission is now the oldest: its edge is the next one.
  CHECK_FALSE(admit(w, s, t0 + 10 * ms + minute - 1).allowed);
  CHECK(admit(w, s, t0 + 10 * ms + minute).allowed);
}

TEST_CASE("remaining counts down and reset is the time until the oldest admission leaves") {
  const sliding_window w(3, minute);
  limit_state s;

  verdict v = admit(w, s, 0);
  CHECK(v.allowed);
  CHECK(v.quota == 3);
  CHECK(v.remaining == 2);
  CHECK(v.reset_ns == minute);  // this admission is the oldest one
  CHECK(v.retry_after_ns == 0);

  v = admit(w, s, 10 * ms);
  CHECK(v.remaining == 1);
  CHECK(v.reset_ns == minute - 10 * ms);

  v = admit(w, s, 25 * ms);
  CHECK(v.remaining == 0);
  CHECK(v.reset_ns == minute - 25 * ms);

  v = admit(w, s, 40 * ms);
  CHECK_FALSE(v.allowed);
  CHECK(v.remaining == 0);
  CHECK(v.retry_after_ns == minute - 40 * ms);
  CHECK(v.reset_ns == v.retry_after_ns);

  // Retrying after exactly retry_after succeeds.
  CHECK(admit(w, s, 40 * ms + v.retry_after_ns).allowed);
}

TEST_CASE("the seed's scenario: 70 requests 50 ms apart at 60/minute admit exactly 60") {
  // The incident: a slow handler let a 60/minute window drain as fast as it filled. Counted at
  // the door, the 61st request within the minute is refused however the requests are spaced.
  const sliding_window w(60, minute);
  limit_state s;
  manual_clock clock(123 * ms);
  const time_ns first = clock.now();
  int allowed = 0;
  std::vector<time_ns> retry_after;
  for (int i = 0; i < 70; ++i) {
    const verdict v = admit(w, s, clock.now());
    if (v.allowed) {
      ++allowed;
      CHECK(retry_after.empty());  // all admissions come first, then all rejections
    } else {
      retry_after.push_back(v.retry_after_ns);
      // The oldest admission (the first request) leaves the window at first + 1 minute.
      CHECK(v.retry_after_ns == first + minute - clock.now());
    }
    clock.advance(50ms);
  }
  CHECK(allowed == 60);
  REQUIRE(retry_after.size() == 10);
  for (std::size_t k = 0; k < retry_after.size(); ++k)
    CHECK(retry_after[k] == minute - (60 + static_cast<time_ns>(k)) * 50 * ms);
}

TEST_CASE("a sliding window never admits more than count in any window of a random sequence") {
  // Small periods and gaps in whole nanoseconds, so many requests land exactly on an edge.
  std::mt19937_64 rng(20240611);
  for (int round = 0; round < 40; ++round) {
    const std::uint64_t count = 1 + rng() % 12;
    const time_ns period = 50 + static_cast<time_ns>(rng() % 400);
    const sliding_window w(count, period);
    limit_state s;
    std::vector<time_ns> admitted;
    time_ns now = static_cast<time_ns>(rng() % 1000);
    for (int i = 0; i < 3000; ++i) {
      switch (rng() % 4) {
        case 0: break;  // same instant
        case 1: now += 1; break;
        case 2: now += static_cast<time_ns>(rng() % (period / 4 + 1)); break;
        case 3: now += static_cast<time_ns>(rng() % (2 * period)); break;
      }
      // Brute-force model: admissions still in the half-open window (now - t < period).
      std::uint64_t held = 0;
      time_ns oldest = now;
      for (auto t = admitted.rbegin(); t != admitted.rend() && now - *t < period; ++t) {
        ++held;
        oldest = *t;
      }
      const bool expect = held < count;
      if (rng() % 5 == 0) {
        const verdict p = w.peek(s, now);
        CHECK(p.allowed == expect);
      }
      const verdict v = admit(w, s, now);
      REQUIRE(v.allowed == expect);
      if (v.allowed) {
        CHECK(v.remaining == count - held - 1);
        admitted.push_back(now);
      } else {
        CHECK(v.retry_after_ns == oldest + period - now);
        CHECK(v.retry_after_ns > 0);
      }
    }
    // Every window [a, a + period) starting at an admission holds at most count of them; the
    // fullest window can always be slid right until it starts at an admission.
    for (std::size_t a = 0; a < admitted.size(); ++a) {
      const auto end = std::lower_bound(admitted.begin() + static_cast<std::ptrdiff_t>(a),
                                        admitted.end(), admitted[a] + period);
      CHECK(static_cast<std::uint64_t>(end - admitted.begin() - static_cast<std::ptrdiff_t>(a)) <=
            count);
    }
  }
}

TEST_CASE("one admission lives inline, more grow a heap log, and compact frees it once empty") {
  const sliding_window w(100, minute);
  limit_state s;
  REQUIRE(admit(w, s, 0).allowed);
  CHECK(s.log_ == nullptr);
  CHECK(s.log_cap_ == 0);
  CHECK(s.log_size_ == 1);

  for (int i = 1; i < 40; ++i) REQUIRE(admit(w, s, i * ms).allowed);
  CHECK(s.log_ != nullptr);
  CHECK(s.log_size_ == 40);
  CHECK(s.log_cap_ >= 40);
  CHECK(s.log_cap_ <= 100);
  CHECK(w.check(s, 40 * ms).remaining == 59);
  // Growth stops at count: the full log is exactly count slots.
  for (int i = 40; i < 100; ++i) REQUIRE(admit(w, s, i * ms).allowed);
  CHECK(s.log_cap_ == 100);
  CHECK_FALSE(w.check(s, 100 * ms).allowed);

  // Still holding admissions: compact keeps everything.
  w.compact(s, 99 * ms + minute - 1);
  CHECK(s.log_ != nullptr);
  CHECK(s.log_size_ > 0);
  CHECK(w.holds_state(s, 99 * ms + minute - 1));

  // The newest admission left at 99 ms + 1 minute: nothing is held, the heap is given back.
  CHECK_FALSE(w.holds_state(s, 99 * ms + minute));
  w.compact(s, 99 * ms + minute);
  CHECK(s.log_ == nullptr);
  CHECK(s.log_cap_ == 0);
  CHECK(s.log_size_ == 0);

  // The entry stays usable after compaction.
  const verdict v = admit(w, s, 2 * minute);
  CHECK(v.allowed);
  CHECK(v.remaining == 99);
}

TEST_CASE("a full log wraps around its ring buffer and keeps exact order") {
  const sliding_window w(4, 100);
  limit_state s;
  time_ns now = 0;
  std::vector<time_ns> admitted;
  // Steady traffic just fast enough to keep the window full: the ring head moves every time.
  for (int i = 0; i < 50; ++i, now += 10) {
    const verdict v = admit(w, s, now);
    std::uint64_t held = 0;
    for (time_ns t : admitted)
      if (now - t < 100) ++held;
    REQUIRE(v.allowed == (held < 4));
    if (v.allowed) admitted.push_back(now);
  }
  CHECK(s.log_cap_ == 4);
  CHECK(admitted.size() == 20);  // 4 per 100 ns over 500 ns
}

TEST_CASE("peek gives the same verdict as check and changes nothing") {
  const sliding_window w(3, 1000);
  limit_state s;
  REQUIRE(admit(w, s, 0).allowed);
  REQUIRE(admit(w, s, 100).allowed);
  REQUIRE(admit(w, s, 200).allowed);

  for (const time_ns now : {time_ns{300}, time_ns{999}, time_ns{1000}, time_ns{1150},
                            time_ns{1200}, time_ns{5000}}) {
    const auto head = s.log_head_;
    const auto size = s.log_size_;
    const auto cap = s.log_cap_;
    const verdict p = w.peek(s, now);
    CHECK(s.log_head_ == head);
    CHECK(s.log_size_ == size);
    CHECK(s.log_cap_ == cap);

    limit_state copy;
    copy.value_ = s.value_;
    copy.log_head_ = s.log_head_;
    copy.log_size_ = s.log_size_;
    copy.log_cap_ = s.log_cap_;
    if (s.log_cap_ != 0) {
      copy.log_ = std::make_unique<time_ns[]>(s.log_cap_);
      std::copy(s.log_.get(), s.log_.get() + s.log_cap_, copy.log_.get());
    }
    const verdict c = w.check(copy, now);
    CHECK(p.allowed == c.allowed);
    CHECK(p.quota == c.quota);
    CHECK(p.remaining == c.remaining);
    CHECK(p.reset_ns == c.reset_ns);
    CHECK(p.retry_after_ns == c.retry_after_ns);
  }
  // Nothing was consumed by all that looking: still full at 999, a slot at 1000.
  CHECK_FALSE(w.check(s, 999).allowed);
  CHECK(w.check(s, 1000).allowed);
}

TEST_CASE("a window of one admission alternates exactly on period edges") {
  const sliding_window w(1, 10);
  limit_state s;
  CHECK(admit(w, s, 0).allowed);
  CHECK_FALSE(admit(w, s, 9).allowed);
  CHECK(admit(w, s, 10).allowed);
  CHECK_FALSE(admit(w, s, 10).allowed);
  CHECK_FALSE(admit(w, s, 19).allowed);
  CHECK(admit(w, s, 20).allowed);
  CHECK(s.log_cap_ == 0);  // count 1 never needs the heap
}
