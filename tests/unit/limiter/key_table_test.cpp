// The bounded key table: the bound, dropping dead entries first, exact LRU eviction, pinning.

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

// Inserts key n and gives it state that lives until `expires_at`, as the limiter would.
limit_state* insert_live(key_table& t, std::uint64_t n, time_ns now,
                         time_ns expires_at = far_future) {
  limit_state* s = t.find_or_insert(key(n), now);
  if (s != nullptr) s->expires_at_ = expires_at;
  return s;
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

TEST_CASE("with every key live, the least recently used one is evicted, in exact order") {
  key_table t(8, 1);
  for (std::uint64_t n = 0; n < 8; ++n) insert_live(t, n, static_cast<time_ns>(n));
  // Touch 0 and 3: the LRU order (oldest first) becomes 1 2 4 5 6 7 0 3.
  REQUIRE(t.find_or_insert(key(0), 10) != nullptr);
  REQUIRE(t.find_or_insert(key(3), 11) != nullptr);
  // find() is a look, not a use: it must not refresh key 1.
  REQUIRE(t.find(key(1)) != nullptr);

  const std::vector<std::uint64_t> expected_order{1, 2, 4, 5, 6, 7, 0, 3};
  std::uint64_t next_new = 100;
  for (std::size_t i = 0; i < expected_order.size(); ++i) {
    REQUIRE(insert_live(t, next_new++, 20 + static_cast<time_ns>(i)) != nullptr);
    for (std::size_t j = 0; j < expected_order.size(); ++j)
      CHECK((t.find(key(expected_order[j])) == nullptr) == (j <= i));
    CHECK(t.stats().evictions == i + 1);
    CHECK(t.stats().size == 8);
  }
  CHECK(t.stats().expired_dropped == 0);
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
