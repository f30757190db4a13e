// The bounded key table: the bound, dead entries first, keys used once before keys used again,
// refused keys last, per-limit fair shares, pinning, for_each.

#include "limiter/key_table.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using namespace sluice::limiter;

constexpr time_ns far_future = INT64_MAX;

limit_key key(std::uint64_t n, std::uint64_t limit_id = 1) {
  limit_key k;
  k.limit_id = limit_id;
  std::memcpy(k.value.data(), &n, sizeof n);
  return k;
}

// Inserts (or uses) key `k` and gives it state that lives until `expires_at`, as the limiter would.
limit_state* insert_live(key_table& t, const limit_key& k, time_ns now,
                         time_ns expires_at = far_future) {
  limit_state* s = t.find_or_insert(k, now);
  if (s != nullptr) s->expires_at_ = expires_at;
  return s;
}

// The same for key n of limit 1.
limit_state* insert_live(key_table& t, std::uint64_t n, time_ns now,
                         time_ns expires_at = far_future) {
  return insert_live(t, key(n), now, expires_at);
}

// How many of keys [first, last) of `limit_id` the table holds.
std::uint64_t held(key_table& t, std::uint64_t first, std::uint64_t last, std::uint64_t limit_id) {
  std::uint64_t n = 0;
  for (std::uint64_t i = first; i < last; ++i) n += t.find(key(i, limit_id)) != nullptr ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("the key table never holds more than max_keys entries") {
  key_table t(8, 1);
  CHECK(t.shard_count() == 1);
  for (std::uint64_t n = 0; n < 100; ++n) {
    REQUIRE(insert_live(t, n, static_cast<time_ns>(n)) != nullptr);
    const auto st = t.stats();
    CHECK(st.size == std::min<std::uint64_t>(n + 1, 8));
    CHECK(st.capacity == 8);
  }
  CHECK(t.stats().evictions == 92);
  // The 8 most recent keys survive, the older ones are gone.
  for (std::uint64_t n = 0; n < 100; ++n) CHECK((t.find(key(n)) != nullptr) == (n >= 92));
}

TEST_CASE("find_or_insert returns the same state for the same key and a fresh one for a new key") {
  key_table t(8, 1);
  limit_state* a = t.find_or_insert(key(1), 0);
  REQUIRE(a != nullptr);
  CHECK(a->expires_at_ == 0);
  CHECK(std::uint32_t{a->in_flight_} == 0);
  a->value_ = 42;
  CHECK(t.find_or_insert(key(1), 5) == a);
  CHECK(t.find(key(1)) == a);
  CHECK(t.find(key(2)) == nullptr);
  CHECK(t.find(key(1, 2)) == nullptr);  // same value bytes, another limit: another key
  limit_state* b = t.find_or_insert(key(1, 2), 5);
  REQUIRE(b != nullptr);
  CHECK(b != a);
  CHECK(b->value_ == 0);
  CHECK(t.stats().size == 2);
}

TEST_CASE("entries that no longer hold state are dropped before any live key") {
  key_table t(8, 1);
  const time_ns now = 1000;
  // Oldest first: 0..3 live, 4 expires exactly now, 5 one ns later, 6 long ago, 7 never held any.
  for (std::uint64_t n = 0; n < 4; ++n) insert_live(t, n, 0);
  insert_live(t, 4, 0, now);
  insert_live(t, 5, 0, now + 1);
  insert_live(t, 6, 0, 10);
  REQUIRE(t.find_or_insert(key(7), 0) != nullptr);  // expires_at_ 0: holds nothing
  REQUIRE(t.stats().size == 8);

  // The live keys are the least recently used, but the dead ones go first.
  REQUIRE(insert_live(t, 100, now) != nullptr);
  auto st = t.stats();
  CHECK(st.evictions == 0);
  CHECK(st.expired_dropped == 3);
  CHECK(st.size == 6);
  CHECK(t.find(key(4)) == nullptr);  // expires_at_ <= now: dead
  CHECK(t.find(key(6)) == nullptr);
  CHECK(t.find(key(7)) == nullptr);
  CHECK(t.find(key(5)) != nullptr);  // expires_at_ == now + 1: still live
  for (std::uint64_t n = 0; n < 4; ++n) CHECK(t.find(key(n)) != nullptr);

  // Room for two more without touching a live key.
  REQUIRE(insert_live(t, 101, now) != nullptr);
  REQUIRE(insert_live(t, 102, now) != nullptr);
  st = t.stats();
  CHECK(st.size == 8);
  CHECK(st.evictions == 0);
}

TEST_CASE("a dead entry at the least recently used end is dropped, not counted as an eviction") {
  key_table t(8, 1);
  insert_live(t, 0, 0, 50);   // LRU end, dead from 50 on
  insert_live(t, 1, 0, 150);  // next in line, dead from 150 on
  for (std::uint64_t n = 2; n < 8; ++n) insert_live(t, n, 0);
  // The first insert at the bound sweeps; the next one goes straight to the LRU end. Both must
  // see that the entry there is dead, and count it as dropped rather than evicted.
  REQUIRE(insert_live(t, 8, 100) != nullptr);
  CHECK(t.find(key(0)) == nullptr);
  CHECK(t.find(key(1)) != nullptr);
  REQUIRE(insert_live(t, 9, 200) != nullptr);
  CHECK(t.find(key(1)) == nullptr);
  const auto st = t.stats();
  CHECK(st.evictions == 0);
  CHECK(st.expired_dropped == 2);
  CHECK(st.size == 8);
  for (std::uint64_t n = 2; n <= 9; ++n) CHECK(t.find(key(n)) != nullptr);
}

TEST_CASE("with every key live, keys used once go in LRU order, and only then keys used again") {
  key_table t(8, 1);
  for (std::uint64_t n = 0; n < 8; ++n) insert_live(t, n, static_cast<time_ns>(n));
  // Use 0 and 3 again: they are protected. The once-used keys, oldest first: 1 2 4 5 6 7.
  REQUIRE(t.find_or_insert(key(0), 10) != nullptr);
  REQUIRE(t.find_or_insert(key(3), 11) != nullptr);
  // find() is a look, not a use: it must not protect key 1.
  REQUIRE(t.find(key(1)) != nullptr);

  const std::vector<std::uint64_t> once{1, 2, 4, 5, 6, 7};
  std::uint64_t next_new = 100;
  for (std::size_t i = 0; i < once.size(); ++i) {
    REQUIRE(insert_live(t, next_new++, 20 + static_cast<time_ns>(i)) != nullptr);
    for (std::size_t j = 0; j < once.size(); ++j)
      CHECK((t.find(key(once[j])) == nullptr) == (j <= i));
    CHECK(t.stats().evictions == i + 1);
    CHECK(t.stats().size == 8);
  }
  // The new keys are used once too: they go, oldest first, and 0 and 3 stay however many come.
  for (std::uint64_t n = 0; n < 1000; ++n) {
    REQUIRE(insert_live(t, next_new++, 100 + static_cast<time_ns>(n)) != nullptr);
    REQUIRE(t.find(key(next_new - 8)) == nullptr);
  }
  CHECK(t.find(key(0)) != nullptr);
  CHECK(t.find(key(3)) != nullptr);
  CHECK(t.stats().size == 8);
  CHECK(t.stats().expired_dropped == 0);
}

TEST_CASE("with no key used once left, keys used again go least recently used first") {
  key_table t(4, 1);
  for (std::uint64_t n = 0; n < 4; ++n) insert_live(t, n, 0);
  // Second uses in the order 2 0 3 1: that is the eviction order from now on.
  for (const std::uint64_t n : {2, 0, 3, 1}) REQUIRE(t.find_or_insert(key(n), 1) != nullptr);
  const std::vector<std::uint64_t> expected_order{2, 0, 3, 1};
  for (std::size_t i = 0; i < expected_order.size(); ++i) {
    const std::uint64_t fresh = 100 + i;
    REQUIRE(insert_live(t, fresh, 2) != nullptr);
    REQUIRE(t.find_or_insert(key(fresh), 3) != nullptr);  // used again at once: protected too
    for (std::size_t j = 0; j < expected_order.size(); ++j)
      CHECK((t.find(key(expected_order[j])) == nullptr) == (j <= i));
  }
  CHECK(t.stats().evictions == 4);
  CHECK(t.stats().evictions_limited == 0);
}

TEST_CASE("a refused key goes only after every other key of its limit that is not in flight") {
  key_table t(4, 1);
  // 0 refused, 1 and 2 used again (not refused), 3 used once; 0 is the least recently used.
  for (std::uint64_t n = 0; n < 4; ++n) insert_live(t, n, 0);
  limit_state* refused = t.find_or_insert(key(0), 1);
  REQUIRE(refused != nullptr);
  refused->refused_ = 1;
  REQUIRE(t.find_or_insert(key(1), 2) != nullptr);
  REQUIRE(t.find_or_insert(key(2), 3) != nullptr);

  // 3 (used once) goes first, then each new key in turn (used once), never 0.
  REQUIRE(insert_live(t, 100, 4) != nullptr);
  CHECK(t.find(key(3)) == nullptr);
  for (std::uint64_t n = 101; n < 110; ++n) REQUIRE(insert_live(t, n, 5) != nullptr);
  CHECK(t.find(key(0)) == refused);
  // With every key used again, the ones not refused go before 0, least recently used first:
  // the order of use is now 109 2 1 0, newest first.
  REQUIRE(t.find_or_insert(key(109), 6) != nullptr);
  REQUIRE(insert_live(t, 200, 7) != nullptr);
  CHECK(t.find(key(1)) == nullptr);
  REQUIRE(t.find_or_insert(key(200), 8) != nullptr);
  REQUIRE(insert_live(t, 201, 9) != nullptr);
  CHECK(t.find(key(2)) == nullptr);
  CHECK(t.find(key(0)) == refused);
  CHECK(t.stats().evictions == 12);
  CHECK(t.stats().evictions_limited == 0);

  // Only when every other key is refused too does the least recently used of them go, counted.
  for (const std::uint64_t n : {201, 109, 200}) t.find(key(n))->refused_ = 1;
  REQUIRE(insert_live(t, 300, 10) != nullptr);
  CHECK(t.find(key(0)) == nullptr);
  for (const std::uint64_t n : {201, 109, 200, 300}) CHECK(t.find(key(n)) != nullptr);
  CHECK(t.stats().evictions == 13);
  CHECK(t.stats().evictions_limited == 1);
}

TEST_CASE("in-flight keys are never evicted, even as the least recently used") {
  key_table t(8, 1);
  limit_state* pinned = t.find_or_insert(key(0), 0);
  REQUIRE(pinned != nullptr);
  pinned->in_flight_ = 1;  // no rate state at all: only the pin keeps it
  for (std::uint64_t n = 1; n < 8; ++n) insert_live(t, n, 0);
  for (std::uint64_t n = 100; n < 200; ++n) REQUIRE(insert_live(t, n, 1000) != nullptr);
  CHECK(t.find(key(0)) == pinned);
  CHECK(std::uint32_t{pinned->in_flight_} == 1);
  CHECK(t.stats().size == 8);
  CHECK(t.stats().insert_failures == 0);

  CHECK(t.stats().evictions == 100);

  // Unpinned, with no state left, it is the first to go, and it was not a live eviction.
  pinned->in_flight_ = 0;
  REQUIRE(insert_live(t, 500, 2000) != nullptr);
  CHECK(t.find(key(0)) == nullptr);
  CHECK(t.stats().evictions == 100);
  CHECK(t.stats().expired_dropped == 1);
}

TEST_CASE("a shard full of in-flight keys refuses inserts and counts the failures") {
  key_table t(8, 1);
  std::vector<limit_state*> states;
  for (std::uint64_t n = 0; n < 8; ++n) {
    limit_state* s = t.find_or_insert(key(n), 0);
    REQUIRE(s != nullptr);
    s->in_flight_ = 1;  // expired rate state, but pinned
    states.push_back(s);
  }
  CHECK(t.find_or_insert(key(100), 1000) == nullptr);
  CHECK(t.find_or_insert(key(101), 1000) == nullptr);
  auto st = t.stats();
  CHECK(st.insert_failures == 2);
  CHECK(st.size == 8);
  CHECK(st.evictions == 0);
  CHECK(t.find(key(100)) == nullptr);
  // Existing keys are still found and usable.
  CHECK(t.find_or_insert(key(3), 1000) == states[3]);
  for (std::uint64_t n = 0; n < 8; ++n) CHECK(t.find(key(n)) == states[n]);

  // One slot finishes: the next insert takes its place.
  states[5]->in_flight_ = 0;
  limit_state* s = t.find_or_insert(key(100), 1000);
  CHECK(s != nullptr);
  CHECK(t.find(key(5)) == nullptr);
  CHECK(t.stats().insert_failures == 2);
}

TEST_CASE("a flood of 100,000 distinct live keys keeps the table within max_keys") {
  for (const unsigned shards : {1u, 4u}) {
    CAPTURE(shards);
    key_table t(1000, shards);
    std::uint64_t max_size = 0;
    for (std::uint64_t n = 0; n < 100'000; ++n) {
      REQUIRE(insert_live(t, n, static_cast<time_ns>(n)) != nullptr);
      max_size = std::max(max_size, t.stats().size);
    }
    const auto st = t.stats();
    CHECK(max_size <= 1000);
    CHECK(st.size == 1000);
    CHECK(st.evictions == 99'000);
    CHECK(st.insert_failures == 0);
  }
}

TEST_CASE("shard counts are rounded down to a power of two and split the bound exactly") {
  key_table t(1001, 6);
  CHECK(t.shard_count() == 4);
  CHECK(t.stats().capacity == 1001);
  // Fill every shard to its share: the shares add up to max_keys, no more.
  for (std::uint64_t n = 0; n < 20'000; ++n) insert_live(t, n, 0);
  CHECK(t.stats().size == 1001);
  CHECK(key_table(10, 0).shard_count() == 1);
}

TEST_CASE("a limit within its fair share keeps every key while another limit floods the table") {
  for (const unsigned shards : {1u, 4u}) {
    CAPTURE(shards);
    key_table t(1000, shards);
    // Limit 2: 50 keys used once (the weakest hold there is), older than the whole flood.
    for (std::uint64_t n = 0; n < 50; ++n) REQUIRE(insert_live(t, key(n, 2), 0) != nullptr);
    // Limit 1 sprays ten times the table.
    for (std::uint64_t n = 0; n < 10'000; ++n)
      REQUIRE(insert_live(t, key(n, 1), 1 + static_cast<time_ns>(n)) != nullptr);
    CHECK(held(t, 0, 50, 2) == 50);
    CHECK(t.stats().size == 1000);
    CHECK(t.stats().evictions == 10'000 - 950);
    CHECK(t.stats().evictions_limited == 0);
  }
}

TEST_CASE("a limit below its share takes keys from the limit holding the most, up to its share") {
  key_table t(12, 1);
  // Limit 1 fills the table; limit 3 holds nothing yet.
  for (std::uint64_t n = 0; n < 12; ++n) REQUIRE(insert_live(t, key(n, 1), 0) != nullptr);
  // Limit 2 arrives: with two limits present the share is 6, so its first 6 keys each take one
  // of limit 1's, oldest first...
  for (std::uint64_t n = 0; n < 6; ++n) {
    REQUIRE(insert_live(t, key(n, 2), 1) != nullptr);
    CHECK(held(t, 0, 12, 1) == 11 - n);
    CHECK(t.find(key(n, 1)) == nullptr);
  }
  // ...and from then on it pays for its own new keys.
  for (std::uint64_t n = 6; n < 100; ++n) REQUIRE(insert_live(t, key(n, 2), 2) != nullptr);
  CHECK(held(t, 0, 12, 1) == 6);
  CHECK(held(t, 0, 100, 2) == 6);
  // A third limit: the share is 4; it takes from the biggest (a tie: either one) up to 4.
  for (std::uint64_t n = 0; n < 50; ++n) REQUIRE(insert_live(t, key(n, 3), 3) != nullptr);
  CHECK(held(t, 0, 50, 3) == 4);
  CHECK(held(t, 0, 12, 1) + held(t, 0, 100, 2) == 8);
  CHECK(held(t, 0, 12, 1) >= 4);
  CHECK(held(t, 0, 100, 2) >= 4);
  CHECK(t.stats().size == 12);
}

TEST_CASE("a key used once by any limit goes before a refused key of the paying limit") {
  key_table t(4, 1);
  // Limit 1: three refused keys (used twice); limit 2: one key used once.
  for (std::uint64_t n = 0; n < 3; ++n) {
    REQUIRE(insert_live(t, key(n, 1), 0) != nullptr);
    t.find_or_insert(key(n, 1), 1)->refused_ = 1;
  }
  REQUIRE(insert_live(t, key(0, 2), 2) != nullptr);
  // Limit 1 (over its share of 2) pays for its new key, but has only refused keys: limit 2's
  // once-used key goes instead, uncounted as limited.
  REQUIRE(insert_live(t, key(3, 1), 3) != nullptr);
  CHECK(t.find(key(0, 2)) == nullptr);
  CHECK(held(t, 0, 3, 1) == 3);
  CHECK(t.stats().evictions_limited == 0);
  // The next new key of limit 1 finds its own once-used key 3.
  REQUIRE(insert_live(t, key(4, 1), 4) != nullptr);
  CHECK(t.find(key(3, 1)) == nullptr);
  CHECK(held(t, 0, 3, 1) == 3);
  CHECK(t.stats().evictions_limited == 0);
}

TEST_CASE("dead keys of any limit and any segment go before a live key") {
  key_table t(6, 1);
  // Limit 1: a live key used once; limit 2: a key used again, dead from 10; limit 3: a refused
  // key, dead from 20; then three more live keys of limit 1.
  REQUIRE(insert_live(t, key(0, 1), 0) != nullptr);
  REQUIRE(insert_live(t, key(0, 2), 0, 10) != nullptr);
  REQUIRE(insert_live(t, key(0, 2), 1, 10) != nullptr);
  REQUIRE(insert_live(t, key(0, 3), 0, 20) != nullptr);
  t.find_or_insert(key(0, 3), 1)->refused_ = 1;
  for (std::uint64_t n = 1; n < 4; ++n) REQUIRE(insert_live(t, key(n, 1), 2) != nullptr);
  // At 20 both are dead: the insert at the bound sweeps them both, and no live key goes.
  REQUIRE(insert_live(t, key(4, 1), 20) != nullptr);
  CHECK(t.find(key(0, 2)) == nullptr);
  CHECK(t.find(key(0, 3)) == nullptr);
  CHECK(held(t, 0, 5, 1) == 5);
  CHECK(t.stats().expired_dropped == 2);
  CHECK(t.stats().evictions == 0);
}

TEST_CASE("in-flight keys used again are never evicted either") {
  key_table t(4, 1);
  std::vector<limit_state*> pinned;
  for (std::uint64_t n = 0; n < 3; ++n) {
    REQUIRE(insert_live(t, n, 0) != nullptr);
    limit_state* s = t.find_or_insert(key(n), 1);
    s->in_flight_ = 1;
    s->refused_ = n == 0 ? 1 : 0;
    pinned.push_back(s);
  }
  for (std::uint64_t n = 100; n < 200; ++n) {
    REQUIRE(insert_live(t, n, 2) != nullptr);
    REQUIRE(t.find_or_insert(key(n), 3) != nullptr);  // used again: protected, like the pinned
  }
  for (std::uint64_t n = 0; n < 3; ++n) CHECK(t.find(key(n)) == pinned[n]);
  CHECK(t.stats().evictions == 99);
  CHECK(t.stats().evictions_limited == 0);
  CHECK(t.stats().insert_failures == 0);
}

TEST_CASE("for_each visits every entry once with its key, and may change the state") {
  key_table t(64, 4);
  for (std::uint64_t n = 0; n < 20; ++n) REQUIRE(insert_live(t, key(n, 1 + n % 3), 0) != nullptr);
  std::vector<limit_key> seen;
  t.for_each([&](const limit_key& k, limit_state& s) {
    seen.push_back(k);
    s.value_ = 7;
    s.expires_at_ = 1000;
  });
  CHECK(seen.size() == 20);
  for (std::uint64_t n = 0; n < 20; ++n) {
    const limit_key k = key(n, 1 + n % 3);
    CHECK(std::count(seen.begin(), seen.end(), k) == 1);
    REQUIRE(t.find(k) != nullptr);
    CHECK(t.find(k)->value_ == 7);
    CHECK(t.find(k)->expires_at_ == 1000);
  }
  // Every shard's lock is free again, and a visit is not a use: nothing moved or was dropped.
  for (unsigned i = 0; i < t.shard_count(); ++i) {
    CHECK(t.shard_mutex(i).try_lock());
    t.shard_mutex(i).unlock();
  }
  CHECK(t.stats().size == 20);
  // An empty table is visited without a call.
  key_table empty(8, 2);
  int calls = 0;
  empty.for_each([&](const limit_key&, limit_state&) { ++calls; });
  CHECK(calls == 0);
}

TEST_CASE("keys survive the index growing, and erased keys leave no trace in it") {
  key_table t(5000, 1);
  for (std::uint64_t n = 0; n < 5000; ++n) REQUIRE(insert_live(t, n, 0, 100) != nullptr);
  for (std::uint64_t n = 0; n < 5000; ++n) REQUIRE(t.find(key(n)) != nullptr);
  // All dead at 100: the next insert sweeps them; none is found afterwards, and new keys are.
  for (std::uint64_t n = 5000; n < 7000; ++n) REQUIRE(insert_live(t, n, 100) != nullptr);
  CHECK(t.stats().expired_dropped == 5000);
  CHECK(held(t, 0, 5000, 1) == 0);
  CHECK(held(t, 5000, 7000, 1) == 2000);
  CHECK(t.stats().size == 2000);
}

TEST_CASE("under churn the index finds exactly the entries the table holds") {
  // Inserts, uses, expiries, sweeps and evictions in a pseudo-random mix over a key space five
  // times the table: after every step, find() agrees with a walk of the entries themselves, so
  // the index neither lost an entry nor kept one that went (backward shifts, the rebuild).
  for (const unsigned shards : {1u, 4u}) {
    CAPTURE(shards);
    key_table t(200, shards);
    std::uint64_t x = 12345;
    auto next = [&x] {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      return x;
    };
    for (time_ns now = 1; now < 20'000; ++now) {
      const std::uint64_t n = next() % 1000;
      const std::uint64_t limit = 1 + next() % 3;
      limit_state* s = t.find_or_insert(key(n, limit), now);
      REQUIRE(s != nullptr);
      if (s->expires_at_ == 0) s->value_ = static_cast<time_ns>(n * 10 + limit);
      s->expires_at_ = now + static_cast<time_ns>(next() % 400);  // some die before they go
      if (now % 97 != 0) continue;  // check the whole table now and then only: it is O(size)
      std::vector<limit_key> held_keys;
      t.for_each([&](const limit_key& k, limit_state& st) {
        held_keys.push_back(k);
        std::uint64_t v;
        std::memcpy(&v, k.value.data(), 8);
        CHECK(st.value_ == static_cast<time_ns>(v * 10 + k.limit_id));
      });
      CHECK(held_keys.size() == t.stats().size);
      REQUIRE(t.stats().size <= 200);
      for (const limit_key& k : held_keys) CHECK(t.find(k) != nullptr);
      std::uint64_t found = 0;
      for (std::uint64_t m = 0; m < 1000; ++m)
        for (std::uint64_t l = 1; l <= 3; ++l) found += t.find(key(m, l)) != nullptr ? 1 : 0;
      CHECK(found == held_keys.size());
    }
  }
}
