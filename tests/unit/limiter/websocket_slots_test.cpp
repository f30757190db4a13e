// WebSocket connection caps: which cap refuses, exact counts, and slots coming back.

#include "limiter/websocket_slots.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace sluice;
using namespace sluice::limiter;

TEST_CASE("a per-ip cap of N admits exactly N from one key, others unaffected") {
  websocket_slots slots;
  const websocket_caps caps{3, 0, 0};
  const auto a = ip_address::v4(127, 0, 0, 2), b = ip_address::v4(127, 0, 0, 3);
  for (int i = 0; i < 3; ++i) CHECK(slots.acquire("ws", a, caps) == websocket_refusal::none);
  CHECK(slots.acquire("ws", a, caps) == websocket_refusal::per_ip);
  CHECK(slots.acquire("ws", b, caps) == websocket_refusal::none);
  // Another route counts separately.
  CHECK(slots.acquire("metrics", a, caps) == websocket_refusal::none);
  CHECK(slots.open_for("ws", a) == 3);
  CHECK(slots.open() == 5);
  slots.release("ws", a);
  CHECK(slots.acquire("ws", a, caps) == websocket_refusal::none);
}

TEST_CASE("the global cap is checked before the route's, the route's before the key's") {
  websocket_slots slots;
  const auto a = ip_address::v4(10, 0, 0, 1);
  CHECK(slots.acquire("r", a, {1, 1, 1}) == websocket_refusal::none);
  CHECK(slots.acquire("r", a, {1, 1, 1}) == websocket_refusal::global);
  CHECK(slots.acquire("r", a, {1, 1, 0}) == websocket_refusal::per_route);
  CHECK(slots.acquire("r", a, {1, 0, 0}) == websocket_refusal::per_ip);
  CHECK(slots.acquire("s", a, {1, 1, 1}) == websocket_refusal::global);
  CHECK(slots.open() == 1);
}

TEST_CASE("every slot released leaves all counts at zero, and the key is forgotten") {
  websocket_slots slots;
  const websocket_caps caps{2, 100, 1000};
  std::vector<ip_address> keys;
  for (std::uint8_t i = 1; i <= 50; ++i) keys.push_back(ip_address::v4(127, 0, 0, i));
  for (const auto& k : keys) {
    REQUIRE(slots.acquire("ws", k, caps) == websocket_refusal::none);
    REQUIRE(slots.acquire("ws", k, caps) == websocket_refusal::none);
  }
  CHECK(slots.acquire("ws", keys[0], caps) == websocket_refusal::per_route);
  for (const auto& k : keys) {
    slots.release("ws", k);
    slots.release("ws", k);
  }
  CHECK(slots.open() == 0);
  const auto by_route = slots.open_by_route();
  REQUIRE(by_route.size() == 1);
  CHECK(by_route[0].second == 0);
  CHECK(slots.open_for("ws", keys[0]) == 0);
  // A release without a slot (a bug elsewhere) cannot drive a count below zero.
  slots.release("ws", keys[0]);
  CHECK(slots.open() == 0);
}

TEST_CASE("threads racing for a global cap of 100 get exactly 100 slots") {
  websocket_slots slots;
  const websocket_caps caps{0, 0, 100};
  std::atomic<int> got{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i)
        if (slots.acquire("ws", ip_address::v4(10, 0, static_cast<std::uint8_t>(t),
                                               static_cast<std::uint8_t>(i)),
                          caps) == websocket_refusal::none)
          ++got;
    });
  }
  for (auto& th : threads) th.join();
  CHECK(got == 100);
  CHECK(slots.open() == 100);
}
