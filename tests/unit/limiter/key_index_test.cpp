// The key table's index alone: find, place and remove against a model, the backward shift, the
// growth to full size, and the refusal of a key that would sit too far from home.

#include "limiter/key_index.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <vector>

namespace {

using sluice::limiter::key_index;

// A well-mixed hash for entry n (the index takes hashes, not keys).
std::uint64_t hash_for(std::uint64_t n) {
  std::uint64_t z = n + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

TEST_CASE("the index finds exactly what was placed and not removed, under churn") {
  constexpr std::uint64_t capacity = 1000;
  key_index index(capacity);
  index.grow_to_full();
  CHECK(index.slot_count() == capacity + (capacity + 6) / 7);
  std::map<std::uint32_t, std::uint64_t> model;  // entry number -> hash
  std::vector<std::uint32_t> free_numbers;
  for (std::uint32_t i = 0; i < capacity; ++i) free_numbers.push_back(i);
  std::uint64_t x = 7, next_hash = 0;
  for (int step = 0; step < 50'000; ++step) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    if (!free_numbers.empty() && (model.empty() || x % 3 != 0)) {
      const std::uint32_t i = free_numbers.back();
      free_numbers.pop_back();
      const std::uint64_t h = hash_for(next_hash++);
      REQUIRE(index.fits(h));
      index.place(i, h);
      model[i] = h;
    } else {
      auto it = model.begin();
      std::advance(it, static_cast<long>(x % model.size()));
      index.remove(it->first, it->second);
      free_numbers.push_back(it->first);
      model.erase(it);
    }
    if (step % 500 == 0) {
      for (const auto& [i, h] : model)
        CHECK(index.find(h, [&](std::uint32_t e) { return e == i; }) == i);
      // Hashes never placed are not found, and the tags spare the owner nearly every look.
      int asked = 0;
      for (std::uint64_t n = 0; n < 1000; ++n)
        CHECK(index.find(hash_for(next_hash + 1'000'000 + n), [&](std::uint32_t) {
          ++asked;
          return false;
        }) == key_index::npos);
      CHECK(asked < 100);  // about 1 in 255 of the slots a miss reads
    }
  }
}

TEST_CASE("keys with the same hash are told apart by the owner, and removals keep the rest") {
  key_index index(100);
  index.grow_to_full();
  const std::uint64_t h = hash_for(1);
  for (std::uint32_t i = 0; i < 10; ++i) index.place(i, h);
  for (std::uint32_t i = 0; i < 10; ++i)
    CHECK(index.find(h, [&](std::uint32_t e) { return e == i; }) == i);
  // Removing from the middle of the run shifts the rest back; all stay findable.
  index.remove(4, h);
  index.remove(0, h);
  for (std::uint32_t i = 0; i < 10; ++i)
    CHECK((index.find(h, [&](std::uint32_t e) { return e == i; }) == i) == (i != 4 && i != 0));
}

TEST_CASE("the index starts small and asks for its full size once, at 15 keys") {
  key_index index(10'000);
  CHECK(index.slot_count() == 16);
  CHECK_FALSE(index.wants_growth(14));
  CHECK(index.wants_growth(15));
  index.grow_to_full();
  CHECK(index.slot_count() == 10'000 + 1429);
  CHECK_FALSE(index.wants_growth(10'000));
  // A small shard never grows: 16 slots hold its 14 keys at most.
  CHECK_FALSE(key_index(14).wants_growth(14));
}

TEST_CASE("a key that would sit more than 255 slots from home is refused, and nothing is lost") {
  // Every hash the same: the run grows one slot per key, and the 257th would be 256 from home.
  key_index index(1000);
  index.grow_to_full();
  const std::uint64_t h = hash_for(42);
  for (std::uint32_t i = 0; i <= key_index::max_probe; ++i) {
    REQUIRE(index.fits(h));
    index.place(i, h);
  }
  CHECK_FALSE(index.fits(h));
  // A key of another home inside the run would push its last key one slot on: refused too. One
  // whose home lies outside the run is not. With 256 of 1143 slots in the run, both happen.
  int refused = 0, fitting = 0;
  for (std::uint64_t n = 0; n < 1000; ++n) (index.fits(hash_for(1000 + n)) ? fitting : refused)++;
  CHECK(refused > 0);
  CHECK(fitting > 0);
  for (std::uint32_t i = 0; i <= key_index::max_probe; ++i)
    CHECK(index.find(h, [&](std::uint32_t e) { return e == i; }) == i);
  index.remove(0, h);
  CHECK(index.fits(h));
}
