// Client connections at accept: the per-key cap, the global cap, the reserve and its split
// between allowlisted and other peers, exact counts across threads, and entries that go away.

#include "limiter/connection_slots.hpp"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

using namespace sluice;
using namespace sluice::limiter;

namespace {
const auto a = ip_address::v4(127, 0, 0, 2);
const auto b = ip_address::v4(127, 0, 0, 3);
}  // namespace

TEST_CASE("a per-key cap of N admits exactly N from one key; other keys are unaffected") {
  connection_slots slots;
  const connection_caps caps{100, 3, 0};
  std::vector<connection_admission> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(slots.acquire(a, false, false, caps));
    CHECK(held.back().admitted());
  }
  CHECK(slots.acquire(a, false, false, caps).refused == connection_refusal::per_key);
  CHECK(slots.acquire(b, false, false, caps).admitted());
  CHECK(slots.open_for(a) == 3);
  CHECK(slots.open() == 4);
  slots.release(a, held.back());
  CHECK(slots.acquire(a, false, false, caps).admitted());
}

TEST_CASE("a key exempt from the per-key cap is not counted per key at all") {
  connection_slots slots;
  const connection_caps caps{100, 2, 0};
  std::vector<connection_admission> held;
  for (int i = 0; i < 10; ++i) {
    held.push_back(slots.acquire(a, true, false, caps));
    REQUIRE(held.back().admitted());
    CHECK_FALSE(held.back().counted_per_key);
  }
  CHECK(slots.open_for(a) == 0);
  CHECK(slots.keys() == 0);
  CHECK(slots.open() == 10);
  // The same address not exempt (another config) still has its own cap.
  CHECK(slots.acquire(a, false, false, caps).admitted());
  for (const auto& h : held) slots.release(a, h);
  CHECK(slots.open() == 1);
}

TEST_CASE("the global cap refuses everyone once full, allowlisted peers included") {
  connection_slots slots;
  const connection_caps caps{2, 0, 0};
  CHECK(slots.acquire(a, false, false, caps).admitted());
  CHECK(slots.acquire(b, false, true, caps).admitted());
  CHECK(slots.acquire(a, false, false, caps).refused == connection_refusal::global);
  CHECK(slots.acquire(b, false, true, caps).refused == connection_refusal::global);
  CHECK(slots.open() == 2);
}

TEST_CASE("the reserve: allowlisted peers may take all of it, others half, exempt-only") {
  connection_slots slots;
  const connection_caps caps{10, 0, 4};  // 6 normal slots, then 4 reserved
  for (int i = 0; i < 6; ++i) {
    const auto got = slots.acquire(ip_address::v4(10, 0, 0, static_cast<std::uint8_t>(i)), false,
                                   false, caps);
    REQUIRE(got.admitted());
    CHECK(got.kind == connection_class::normal);
  }
  // Pool full below the reserve: peers not allowlisted get half of it (2), exempt-only.
  for (int i = 0; i < 2; ++i) {
    const auto got = slots.acquire(b, false, false, caps);
    REQUIRE(got.admitted());
    CHECK(got.kind == connection_class::reserve);
  }
  CHECK(slots.acquire(b, false, false, caps).refused == connection_refusal::global);
  // Allowlisted peers get the rest, served like any connection.
  for (int i = 0; i < 2; ++i) {
    const auto got = slots.acquire(a, false, true, caps);
    REQUIRE(got.admitted());
    CHECK(got.kind == connection_class::normal);
  }
  CHECK(slots.acquire(a, false, true, caps).refused == connection_refusal::global);
  CHECK(slots.open() == 10);
}

TEST_CASE("allowlisted peers keep half the reserve even when others hold the rest") {
  connection_slots slots;
  const connection_caps caps{8, 0, 5};  // 3 normal; others may take 3 of the 5 reserved
  std::vector<connection_admission> others;
  for (int i = 0; i < 10; ++i) others.push_back(slots.acquire(b, false, false, caps));
  int admitted = 0;
  for (const auto& o : others) admitted += o.admitted() ? 1 : 0;
  CHECK(admitted == 6);
  for (int i = 0; i < 2; ++i) CHECK(slots.acquire(a, false, true, caps).admitted());
  CHECK(slots.acquire(a, false, true, caps).refused == connection_refusal::global);
  // A reserve slot given back is free for another peer that is not allowlisted.
  for (auto& o : others) {
    if (o.kind == connection_class::reserve && o.admitted()) {
      slots.release(b, o);
      o = {};
      o.refused = connection_refusal::global;
      break;
    }
  }
  CHECK(slots.acquire(b, false, false, caps).kind == connection_class::reserve);
}

TEST_CASE("a reserve of 0 leaves the whole pool to everyone") {
  connection_slots slots;
  const connection_caps caps{3, 0, 0};
  for (int i = 0; i < 3; ++i) CHECK(slots.acquire(b, false, false, caps).kind == connection_class::normal);
  CHECK(slots.acquire(b, false, false, caps).refused == connection_refusal::global);
}

TEST_CASE("a refused connection takes nothing, and release of a refusal is a no-op") {
  connection_slots slots;
  const connection_caps caps{1, 1, 0};
  const auto first = slots.acquire(a, false, false, caps);
  const auto per_key = slots.acquire(a, false, false, caps);
  const auto global = slots.acquire(b, false, false, caps);
  CHECK(per_key.refused == connection_refusal::per_key);
  CHECK(global.refused == connection_refusal::global);
  slots.release(a, per_key);
  slots.release(b, global);
  CHECK(slots.open() == 1);
  CHECK(slots.open_for(a) == 1);
  CHECK(slots.open_for(b) == 0);
  CHECK(slots.keys() == 1);
  slots.release(a, first);
  CHECK(slots.open() == 0);
  CHECK(slots.keys() == 0);
}

TEST_CASE("counts stay exact with accepts and closes on many threads, and entries go away") {
  connection_slots slots;
  const connection_caps caps{1000000, 5, 0};
  constexpr int threads = 4, rounds = 20000;
  std::vector<std::thread> pool;
  std::atomic<int> over_cap{0};
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        // Eight keys shared by all threads: each key sees up to four holders at once.
        const auto key = ip_address::v4(10, 1, 0, static_cast<std::uint8_t>((i + t) % 8));
        const auto got = slots.acquire(key, false, false, caps);
        if (!got.admitted()) continue;
        if (slots.open_for(key) > caps.per_key) ++over_cap;
        slots.release(key, got);
      }
    });
  }
  for (auto& th : pool) th.join();
  CHECK(over_cap == 0);
  CHECK(slots.open() == 0);
  CHECK(slots.keys() == 0);
}

TEST_CASE("one key's cap holds exactly under contention") {
  connection_slots slots;
  const connection_caps caps{1000000, 7, 0};
  constexpr int threads = 4, tries = 1000;
  std::atomic<int> admitted{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < tries; ++i)
        if (slots.acquire(a, false, false, caps).admitted()) ++admitted;
    });
  }
  for (auto& th : pool) th.join();
  CHECK(admitted == 7);
  CHECK(slots.open_for(a) == 7);
  CHECK(slots.open() == 7);
}
