// The key table's promise under a flood, through the limiter on a manual clock: a spray of ten
// times max_keys distinct keys at full speed, on the same limit or on another one, cannot hand a
// client back admissions it already used, and the table stays within its bound.

#include "limiter/limiter.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace {

using namespace sluice;
using namespace sluice::limiter;
using namespace std::chrono_literals;

using rate_limiter = sluice::limiter::limiter;

constexpr time_ns us = 1'000;

config::limit hourly(std::uint64_t id, std::uint64_t count, config::key_kind per) {
  config::limit l;
  l.name = std::to_string(count) + "/hour";
  l.id = id;
  l.per = per;
  if (per == config::key_kind::header) l.header = "x-api-key";
  l.rate = config::rate{count, 1h};
  l.burst = count;
  return l;
}

config::route route_of(std::string name, config::limit l) {
  config::route r;
  r.name = std::move(name);
  r.pattern = "/";
  r.limits = {std::move(l)};
  return r;
}

// Key n of the route's one limit: 16 well-mixed bytes, as a header value's keyed digest or a
// sprayed IPv6 address would be.
std::vector<limit_key> key_of(const config::route& r, std::uint64_t n) {
  limit_key k;
  k.limit_id = r.limits[0].id;
  std::uint64_t a = n * 0x9e3779b97f4a7c15ull + 1, b = (n ^ 0x5851f42d4c957f2dull) * 0xbf58476d1ce4e5b9ull;
  a ^= a >> 31;
  b ^= b >> 29;
  std::memcpy(k.value.data(), &a, 8);
  std::memcpy(k.value.data() + 8, &b, 8);
  return {k};
}

// Admissions out of `tries` requests for key n at `now`.
int admitted(rate_limiter& lim, const config::route& r, std::uint64_t n, int tries, time_ns now) {
  int yes = 0;
  for (int i = 0; i < tries; ++i) yes += lim.acquire(r, key_of(r, n), now).allowed() ? 1 : 0;
  return yes;
}

// Sprays `count` keys never seen before (numbered from `first`) through `spray` at one request
// per microsecond, and retries the refused client `refused` on `watched` every 1000 of them;
// checks the bound and the limited-eviction counter as it goes.
void flood(rate_limiter& lim, manual_clock& clock, const config::route& spray, std::uint64_t first,
           std::uint64_t count, const config::route& watched, std::uint64_t refused,
           std::uint64_t max_keys) {
  for (std::uint64_t n = first; n < first + count; ++n) {
    clock.advance(1us);
    REQUIRE(lim.acquire(spray, key_of(spray, n), clock.now()).allowed());
    if ((n - first) % 1000 == 999) {
      const auto st = lim.table_stats();
      REQUIRE(st.size <= max_keys);
      REQUIRE(st.evictions_limited == 0);
      REQUIRE_FALSE(lim.acquire(watched, key_of(watched, refused), clock.now()).allowed());
    }
  }
}

}  // namespace

TEST_CASE("a flood of new keys on the same limit cannot give back admissions a client used") {
  // One shard (every key meets every other) and eight (the flood spread over shards).
  for (const std::uint64_t max_keys : {1000u, 8192u}) {
    for (const std::uint64_t quota : {2u, 5u}) {
      CAPTURE(max_keys);
      CAPTURE(quota);
      rate_limiter lim(max_keys);
      manual_clock clock;
      const auto api = route_of("api", hourly(1, quota, config::key_kind::header));
      // Clients 1..quota-1 used 2..quota admissions (used twice or more); client 0 used all of
      // them and was refused once more. Each key is held; none of them is used once only.
      constexpr std::uint64_t refused = 0;
      REQUIRE(admitted(lim, api, refused, static_cast<int>(quota) + 1, clock.now()) ==
              static_cast<int>(quota));
      for (std::uint64_t k = 2; k <= quota; ++k)
        REQUIRE(admitted(lim, api, k - 1, static_cast<int>(k), clock.now()) ==
                static_cast<int>(k));

      // Ten times the table of keys seen once, from client numbers far above the clients'.
      flood(lim, clock, api, 1'000'000, 10 * max_keys, api, refused, max_keys);

      const auto st = lim.table_stats();
      CHECK(st.evictions >= 9 * max_keys);  // the flood did push keys out: its own
      CHECK(st.evictions_limited == 0);
      CHECK(st.size <= max_keys);
      // Within the same hour, each client gets exactly what it had left, and the refused one
      // nothing.
      const time_ns later = clock.now() + 1000 * us;
      CHECK(admitted(lim, api, refused, 3, later) == 0);
      for (std::uint64_t k = 2; k <= quota; ++k) {
        CAPTURE(k);
        CHECK(admitted(lim, api, k - 1, static_cast<int>(quota) + 1, later) ==
              static_cast<int>(quota - k));
      }
    }
  }
}

TEST_CASE("a flood on another limit of the table cannot give back even a single admission") {
  for (const std::uint64_t max_keys : {1000u, 8192u}) {
    CAPTURE(max_keys);
    rate_limiter lim(max_keys);
    manual_clock clock;
    // The flood sprays X-Api-Key values on one route; the clients are counted per IP on another.
    const auto api = route_of("api", hourly(1, 2, config::key_kind::header));
    const auto login = route_of("login", hourly(2, 3, config::key_kind::ip));
    constexpr std::uint64_t refused = 0, once = 1, twice = 2;
    REQUIRE(admitted(lim, login, refused, 4, clock.now()) == 3);
    REQUIRE(admitted(lim, login, once, 1, clock.now()) == 1);
    REQUIRE(admitted(lim, login, twice, 2, clock.now()) == 2);

    flood(lim, clock, api, 1'000'000, 10 * max_keys, login, refused, max_keys);

    const auto st = lim.table_stats();
    CHECK(st.evictions >= 9 * max_keys);
    CHECK(st.evictions_limited == 0);
    CHECK(st.size <= max_keys);
    const time_ns later = clock.now() + 1000 * us;
    CHECK(admitted(lim, login, refused, 3, later) == 0);
    CHECK(admitted(lim, login, once, 4, later) == 2);  // its limit holds less than its share
    CHECK(admitted(lim, login, twice, 4, later) == 1);
  }
}

TEST_CASE("a flood on the same limit can cost a key used once that one admission, no more") {
  // The limit of the design: a key used once has one admission at stake, exactly like every
  // sprayed key, so the table cannot tell it from them and it goes in its turn. What it gives
  // back is the one admission (the client gets at most N, not N - 1), and nothing is counted as
  // a limited eviction.
  const std::uint64_t max_keys = 1000;
  rate_limiter lim(max_keys);
  manual_clock clock;
  const auto api = route_of("api", hourly(1, 3, config::key_kind::header));
  constexpr std::uint64_t once = 1, refused = 0;
  REQUIRE(admitted(lim, api, refused, 4, clock.now()) == 3);
  REQUIRE(admitted(lim, api, once, 1, clock.now()) == 1);
  flood(lim, clock, api, 1'000'000, 10 * max_keys, api, refused, max_keys);
  const time_ns later = clock.now() + 1000 * us;
  CHECK(admitted(lim, api, once, 5, later) <= 3);
  CHECK(admitted(lim, api, refused, 3, later) == 0);
  CHECK(lim.table_stats().evictions_limited == 0);
}
