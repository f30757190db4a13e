// The limiter over whole routes: several limits at once, in-flight caps, refusals, threads.

#include "limiter/limiter.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "config/config.hpp"

namespace {

using namespace sluice;
using namespace sluice::limiter;
using namespace std::chrono_literals;

using rate_limiter = sluice::limiter::limiter;

constexpr time_ns ms = 1'000'000;
constexpr time_ns second = 1'000 * ms;
constexpr time_ns minute = 60 * second;

config::limit rate_limit(std::uint64_t id, std::uint64_t count, std::chrono::nanoseconds period,
                         config::key_kind per = config::key_kind::ip) {
  config::limit l;
  l.name = "limit " + std::to_string(id);
  l.id = id;
  l.per = per;
  l.rate = config::rate{count, period};
  l.burst = count;
  return l;
}

config::limit bucket_limit(std::uint64_t id, std::uint64_t count, std::chrono::nanoseconds period,
                           std::uint64_t burst) {
  config::limit l = rate_limit(id, count, period);
  l.algo = config::algorithm::token_bucket;
  l.burst = burst;
  return l;
}

config::limit in_flight_limit(std::uint64_t id, std::uint32_t max_in_flight) {
  config::limit l;
  l.name = "in flight " + std::to_string(id);
  l.id = id;
  l.max_in_flight = max_in_flight;
  return l;
}

config::route route_of(std::vector<config::limit> limits) {
  config::route r;
  r.name = "r";
  r.pattern = "/";
  r.limits = std::move(limits);
  return r;
}

// The keys the key builder would make: a client number for per-ip limits, zeros per route.
std::vector<limit_key> keys_for(const config::route& r, std::uint32_t client) {
  std::vector<limit_key> keys;
  for (const auto& l : r.limits) {
    limit_key k;
    k.limit_id = l.id;
    if (l.per != config::key_kind::route) std::memcpy(k.value.data() + 12, &client, 4);
    keys.push_back(k);
  }
  return keys;
}

}  // namespace

TEST_CASE("a route with no limits admits everything") {
  rate_limiter lim(1000);
  const auto r = route_of({});
  for (int i = 0; i < 100; ++i) {
    const decision d = lim.acquire(r, {}, 0);
    CHECK(d.allowed());
    CHECK(d.limit_index == -1);
    CHECK(d.verdicts.empty());
  }
}

TEST_CASE("every limit of a route applies, and a refusal by one consumes nothing from the others") {
  rate_limiter lim(1000);
  // Per client 2/minute, all clients together 3/minute.
  const auto r = route_of({rate_limit(1, 2, 60s), rate_limit(2, 3, 60s, config::key_kind::route)});
  const auto a = keys_for(r, 1), b = keys_for(r, 2), c = keys_for(r, 3);

  CHECK(lim.acquire(r, a, 0).allowed());
  CHECK(lim.acquire(r, a, 1).allowed());
  // Client a is out of its own quota; its refusals must not eat the shared one.
  for (int i = 0; i < 10; ++i) {
    const decision d = lim.acquire(r, a, 2 + i);
    CHECK(d.refused == refusal::rate);
    CHECK(d.limit_index == 0);
    REQUIRE(d.verdicts.size() == 2);
    CHECK_FALSE(d.verdicts[0].allowed);
    CHECK(d.verdicts[1].allowed);
  }
  // So the shared limit has exactly one admission left, for b.
  CHECK(lim.acquire(r, b, 20).allowed());
  // Now the shared limit refuses c, and c's own quota stays untouched.
  for (int i = 0; i < 10; ++i) {
    const decision d = lim.acquire(r, c, 30 + i);
    CHECK(d.refused == refusal::rate);
    CHECK(d.limit_index == 1);
    CHECK(d.verdicts[0].allowed);
    CHECK(d.verdicts[0].remaining == 1);
  }
  // One minute after b's admission the shared window is empty again: c gets both admissions of
  // its own (its refusals never consumed them), and a third is refused by c's own limit.
  const decision p = lim.peek(r, c, 20 + minute);
  CHECK(p.allowed());
  CHECK(p.verdicts[0].remaining == 1);
  CHECK(lim.acquire(r, c, 20 + minute).allowed());
  CHECK(lim.acquire(r, c, 20 + minute).allowed());
  const decision d = lim.acquire(r, c, 20 + minute);
  CHECK(d.refused == refusal::rate);
  CHECK(d.limit_index == 0);
}

TEST_CASE("max_in_flight caps concurrent admissions and each release frees exactly one slot") {
  rate_limiter lim(1000);
  const auto r = route_of({in_flight_limit(1, 2)});
  const auto k = keys_for(r, 1), other = keys_for(r, 2);

  decision d = lim.acquire(r, k, 0);
  CHECK(d.allowed());
  CHECK(d.verdicts[0].quota == 2);
  CHECK(d.verdicts[0].remaining == 1);
  d = lim.acquire(r, k, 0);
  CHECK(d.allowed());
  CHECK(d.verdicts[0].remaining == 0);
  for (int i = 0; i < 5; ++i) {
    d = lim.acquire(r, k, 0);
    CHECK(d.refused == refusal::in_flight);
    CHECK(d.limit_index == 0);
    CHECK(d.limiting.retry_after_ns > 0);
  }
  CHECK(lim.acquire(r, other, 0).allowed());  // the cap is per key

  // Refused attempts held no slot: one release gives back exactly one.
  lim.release(r, k);
  CHECK(lim.acquire(r, k, 0).allowed());
  CHECK(lim.acquire(r, k, 0).refused == refusal::in_flight);

  // Releasing everything, and once more than was taken, never makes room for more than the cap.
  lim.release(r, k);
  lim.release(r, k);
  lim.release(r, k);
  CHECK(lim.peek(r, k, 0).allowed());
  CHECK(lim.acquire(r, k, 0).allowed());
  CHECK(lim.acquire(r, k, 0).allowed());
  CHECK(lim.acquire(r, k, 0).refused == refusal::in_flight);
}

TEST_CASE("release only frees slots of capped limits") {
  rate_limiter lim(1000);
  // The rate limit has no cap: release must leave it alone, and the capped one is freed.
  const auto r = route_of({rate_limit(1, 2, 60s), in_flight_limit(2, 1)});
  const auto k = keys_for(r, 1);
  CHECK(lim.acquire(r, k, 0).allowed());
  CHECK(lim.acquire(r, k, 0).refused == refusal::in_flight);
  lim.release(r, k);
  CHECK(lim.acquire(r, k, 0).allowed());
  lim.release(r, k);
  const decision d = lim.acquire(r, k, 0);
  CHECK(d.refused == refusal::rate);
  CHECK(d.limit_index == 0);
}

TEST_CASE("a limit with both a rate and an in-flight cap gives the stricter answer") {
  rate_limiter lim(1000);
  config::limit l = rate_limit(1, 3, 60s);
  l.max_in_flight = 2;
  const auto r = route_of({l});
  const auto k = keys_for(r, 1);

  decision d = lim.acquire(r, k, 0);
  CHECK(d.allowed());
  CHECK(d.verdicts[0].remaining == 1);  // in flight leaves 1, rate leaves 2: the fewer
  CHECK(lim.acquire(r, k, 0).allowed());
  d = lim.acquire(r, k, 0);
  CHECK(d.refused == refusal::in_flight);
  lim.release(r, k);
  CHECK(lim.acquire(r, k, 0).allowed());
  lim.release(r, k);
  lim.release(r, k);
  d = lim.acquire(r, k, 10 * ms);
  CHECK(d.refused == refusal::rate);
  CHECK(d.limiting.retry_after_ns == minute - 10 * ms);
}

TEST_CASE("a refused request reports the limit with the longest wait") {
  rate_limiter lim(1000);
  for (const bool long_first : {false, true}) {
    CAPTURE(long_first);
    auto one_second = rate_limit(1, 1, 1s), one_minute = rate_limit(2, 1, 60s);
    const auto r =
        long_first ? route_of({one_minute, one_second}) : route_of({one_second, one_minute});
    const auto k = keys_for(r, long_first ? 7 : 8);
    const time_ns t0 = long_first ? 10 * minute : 0;
    REQUIRE(lim.acquire(r, k, t0).allowed());
    const decision d = lim.acquire(r, k, t0 + 100 * ms);
    CHECK(d.refused == refusal::rate);
    CHECK(d.limit_index == (long_first ? 0 : 1));
    CHECK(d.limiting.retry_after_ns == minute - 100 * ms);
    CHECK_FALSE(d.limiting.allowed);
    // Once the short limit has room again, the long one alone refuses.
    const decision later = lim.acquire(r, k, t0 + 2 * second);
    CHECK(later.limit_index == (long_first ? 0 : 1));
    CHECK(later.limiting.retry_after_ns == minute - 2 * second);
  }
}

TEST_CASE("an admitted request reports the limit with the fewest admissions left") {
  rate_limiter lim(1000);
  const auto r = route_of({rate_limit(1, 10, 60s), rate_limit(2, 3, 60s), rate_limit(3, 5, 60s)});
  const auto k = keys_for(r, 1);
  const decision d = lim.acquire(r, k, 0);
  REQUIRE(d.allowed());
  REQUIRE(d.verdicts.size() == 3);
  CHECK(d.verdicts[0].remaining == 9);
  CHECK(d.verdicts[1].remaining == 2);
  CHECK(d.verdicts[2].remaining == 4);
  CHECK(d.limiting.quota == 3);
  CHECK(d.limiting.remaining == 2);
}

TEST_CASE("peek answers what acquire would and consumes nothing") {
  rate_limiter lim(1000);
  const auto r = route_of({rate_limit(1, 2, 60s), bucket_limit(2, 60, 60s, 3)});
  const auto k = keys_for(r, 1);
  for (int i = 0; i < 20; ++i) CHECK(lim.peek(r, k, 0).allowed());
  const decision p = lim.peek(r, k, 0);
  CHECK(p.verdicts[0].remaining == 1);
  CHECK(p.verdicts[1].remaining == 2);
  CHECK(lim.acquire(r, k, 0).allowed());
  CHECK(lim.acquire(r, k, 0).allowed());
  const decision peeked = lim.peek(r, k, 5 * ms);
  const decision acquired = lim.acquire(r, k, 5 * ms);
  CHECK(peeked.refused == acquired.refused);
  CHECK(peeked.limit_index == acquired.limit_index);
  CHECK(peeked.limiting.retry_after_ns == acquired.limiting.retry_after_ns);
  CHECK(acquired.limiting.retry_after_ns == minute - 5 * ms);
}

TEST_CASE("a key table full of in-flight keys refuses with table_full and unpins what it took") {
  rate_limiter lim(2);  // one shard of two keys
  const auto held = route_of({in_flight_limit(1, 1)});
  const auto two = route_of({in_flight_limit(2, 1), in_flight_limit(3, 5)});
  const auto k_held = keys_for(held, 1), k_two = keys_for(two, 1);

  REQUIRE(lim.acquire(held, k_held, 0).allowed());  // key 1 stays in flight
  // The first key of `two` fits; the second finds only in-flight keys to evict.
  const decision d = lim.acquire(two, k_two, 0);
  CHECK(d.refused == refusal::table_full);
  CHECK_FALSE(d.allowed());
  CHECK(d.limit_index == 1);
  CHECK(d.limiting.retry_after_ns > 0);
  CHECK(lim.table_stats().insert_failures == 1);

  // The failed request must not have left its first key in flight: with max_in_flight 1, a
  // leaked pin would refuse the next attempt with in_flight.
  lim.release(held, k_held);
  const decision again = lim.acquire(two, k_two, 1);
  CHECK(again.allowed());
  CHECK(lim.table_stats().size == 2);
}

TEST_CASE("keys whose window has passed are dropped before live ones, to the nanosecond") {
  rate_limiter lim(8);
  const auto r = route_of({rate_limit(1, 1, 1s)});
  for (std::uint32_t c = 0; c < 8; ++c) REQUIRE(lim.acquire(r, keys_for(r, c), 0).allowed());
  // One ns before the window ends every key is live: a new client must evict one.
  REQUIRE(lim.acquire(r, keys_for(r, 100), second - 1).allowed());
  CHECK(lim.table_stats().evictions == 1);
  // At the window's end the remaining first keys hold nothing and go without an eviction.
  for (std::uint32_t c = 101; c < 108; ++c)
    REQUIRE(lim.acquire(r, keys_for(r, c), second).allowed());
  const auto st = lim.table_stats();
  CHECK(st.evictions == 1);
  CHECK(st.expired_dropped == 7);
  CHECK(st.size == 8);
}

TEST_CASE("a token bucket key is dropped once its bucket is full again") {
  rate_limiter lim(2);
  const auto r = route_of({bucket_limit(1, 60, 60s, 10)});
  for (int i = 0; i < 3; ++i) REQUIRE(lim.acquire(r, keys_for(r, 1), 0).allowed());
  REQUIRE(lim.acquire(r, keys_for(r, 2), 0).allowed());
  // Client 1 took three tokens at 0: full again at exactly 3 s, client 2 at 1 s.
  REQUIRE(lim.acquire(r, keys_for(r, 3), 3 * second - 1).allowed());
  CHECK(lim.table_stats().expired_dropped == 1);  // client 2
  CHECK(lim.table_stats().evictions == 0);
  REQUIRE(lim.acquire(r, keys_for(r, 4), 3 * second).allowed());
  CHECK(lim.table_stats().expired_dropped == 2);  // client 1
  CHECK(lim.table_stats().evictions == 0);
}

TEST_CASE("threads hammering one key at one instant admit exactly the limit") {
  rate_limiter lim(1'000'000);
  for (const auto algo : {config::algorithm::sliding_window, config::algorithm::token_bucket}) {
    CAPTURE(static_cast<int>(algo));
    config::limit l = rate_limit(algo == config::algorithm::sliding_window ? 1 : 2, 1000, 60s);
    l.algo = algo;
    const auto r = route_of({l});
    const auto k = keys_for(r, 1);
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        int mine = 0;
        for (int i = 0; i < 10'000; ++i) mine += lim.acquire(r, k, 5 * second).allowed() ? 1 : 0;
        admitted += mine;
      });
    }
    for (auto& th : threads) th.join();
    CHECK(admitted.load() == 1000);
  }
}

TEST_CASE("threads on many clients and a shared route limit admit exactly the shared limit") {
  // Two keys per request in different shards: exercises the ordered locking across shards.
  rate_limiter lim(1'000'000);
  const auto r =
      route_of({rate_limit(1, 50, 60s), rate_limit(2, 700, 60s, config::key_kind::route)});
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (std::uint32_t t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      int mine = 0;
      for (std::uint32_t i = 0; i < 5'000; ++i) {
        const auto k = keys_for(r, t * 100 + i % 100);  // 800 clients, 50 each would be 40,000
        mine += lim.acquire(r, k, 0).allowed() ? 1 : 0;
      }
      admitted += mine;
    });
  }
  for (auto& th : threads) th.join();
  CHECK(admitted.load() == 700);
}

TEST_CASE("threads acquiring and releasing never exceed max_in_flight at once") {
  rate_limiter lim(1000);
  const auto r = route_of({in_flight_limit(1, 3)});
  const auto k = keys_for(r, 1);
  std::atomic<int> active{0}, peak{0}, admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) {
        if (!lim.acquire(r, k, 0).allowed()) continue;
        const int now_active = ++active;
        int seen = peak.load();
        while (now_active > seen && !peak.compare_exchange_weak(seen, now_active)) {
        }
        ++admitted;
        --active;
        lim.release(r, k);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(peak.load() <= 3);
  CHECK(admitted.load() > 0);
  // Every slot came back: the cap is whole again.
  for (int i = 0; i < 3; ++i) CHECK(lim.acquire(r, k, 0).allowed());
  CHECK(lim.acquire(r, k, 0).refused == refusal::in_flight);
}

TEST_CASE("evicting a key that was just refused is counted apart: it hands the client a new quota") {
  rate_limiter lim(2);
  const auto r = route_of({rate_limit(1, 1, 60s)});
  // Both clients admitted, then refused: the table holds nothing but refused keys.
  for (std::uint32_t c = 1; c <= 2; ++c) {
    REQUIRE(lim.acquire(r, keys_for(r, c), 0).allowed());
    CHECK_FALSE(lim.acquire(r, keys_for(r, c), 1).allowed());
  }
  // A new client must push one out: the least recently used, client 1, and it is counted.
  REQUIRE(lim.acquire(r, keys_for(r, 3), 2).allowed());
  CHECK(lim.table_stats().evictions == 1);
  CHECK(lim.table_stats().evictions_limited == 1);
  // Which is why it is counted: client 1's state is gone and it is admitted again.
  CHECK(lim.acquire(r, keys_for(r, 1), 3).allowed());
  // Client 2 was not touched: still refused.
  CHECK_FALSE(lim.acquire(r, keys_for(r, 2), 4).allowed());
}

TEST_CASE("a refused key that is admitted again is no longer counted as limited when evicted") {
  rate_limiter lim(2);
  const auto r = route_of({rate_limit(1, 1, 60s)});
  REQUIRE(lim.acquire(r, keys_for(r, 1), 0).allowed());
  CHECK_FALSE(lim.acquire(r, keys_for(r, 1), 1).allowed());
  REQUIRE(lim.acquire(r, keys_for(r, 1), minute).allowed());  // window over: admitted, flag clear
  // Client 2 is refused, so client 1 is the key to go when client 3 arrives, and it is live.
  REQUIRE(lim.acquire(r, keys_for(r, 2), minute + 1).allowed());
  CHECK_FALSE(lim.acquire(r, keys_for(r, 2), minute + 2).allowed());
  REQUIRE(lim.acquire(r, keys_for(r, 3), minute + 3).allowed());
  CHECK(lim.table_stats().evictions == 1);
  CHECK(lim.table_stats().evictions_limited == 0);
  CHECK(lim.acquire(r, keys_for(r, 1), minute + 4).allowed());  // its state went
}

TEST_CASE("a shadow limit never refuses, reports what it would have done, and consumes only room") {
  rate_limiter lim(1000);
  auto trial = rate_limit(2, 2, 60s);
  trial.shadow = true;
  const auto r = route_of({rate_limit(1, 5, 60s), trial});
  const auto k = keys_for(r, 1);
  for (int i = 0; i < 2; ++i) {
    const decision d = lim.acquire(r, k, i);
    CHECK(d.allowed());
    CHECK_FALSE(d.shadow_refused);
  }
  // The third would be refused by the trial limit: admitted, flagged, and the enforced limit
  // still counts it.
  for (int i = 2; i < 5; ++i) {
    const decision d = lim.acquire(r, k, i);
    CHECK(d.allowed());
    CHECK(d.shadow_refused);
    CHECK(d.shadow_index == 1);
    CHECK(d.verdicts[0].remaining == static_cast<std::uint64_t>(4 - i));
  }
  // The enforced limit refuses the sixth as usual.
  const decision d = lim.acquire(r, k, 5);
  CHECK(d.refused == refusal::rate);
  CHECK(d.limit_index == 0);
  // Switched to enforce (same id), the trial limit's window holds exactly its two admissions.
  trial.shadow = false;
  const auto enforced = route_of({trial});
  CHECK_FALSE(lim.acquire(enforced, keys_for(enforced, 1), 6).allowed());
  CHECK(lim.acquire(enforced, keys_for(enforced, 1), minute).allowed());
}
