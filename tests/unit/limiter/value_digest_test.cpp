// Header values as key bytes: a keyed digest, stable within one process.

#include "limiter/value_digest.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

namespace {

using sluice::limiter::value_digest;

}  // namespace

TEST_CASE("the same value always gives the same digest within a process") {
  const std::string value = "api-key-0123456789abcdef";
  const auto first = value_digest(value);
  for (int i = 0; i < 10; ++i) CHECK(value_digest(value) == first);
  CHECK(value_digest(std::string(value)) == first);  // by content, not by address
}

TEST_CASE("different values give different digests") {
  std::set<std::array<std::uint8_t, 16>> seen;
  int values = 0;
  // Lengths across the 8-byte block boundary, one-bit and one-byte differences, prefixes.
  for (std::size_t len = 0; len <= 24; ++len) {
    for (char c : {'a', 'b', '\0', '\xff'}) {
      std::string v(len, 'k');
      if (len > 0) v[len - 1] = c;
      seen.insert(value_digest(v));
      ++values;
    }
  }
  for (int i = 0; i < 1000; ++i) {
    seen.insert(value_digest("key-" + std::to_string(i)));
    ++values;
  }
  // Every generated value is distinct except the four empty strings, which are one value.
  CHECK(seen.size() == static_cast<std::size_t>(values) - 3);
  CHECK_FALSE(value_digest("abc") == value_digest(std::string_view("abc\0", 4)));
  CHECK_FALSE(value_digest("12345678") == value_digest("123456789"));
}

TEST_CASE("both halves of the digest carry information") {
  // Two independent keys: neither half is zero or a copy of the other.
  const auto d = value_digest("k");
  const std::array<std::uint8_t, 8> zero{};
  std::array<std::uint8_t, 8> lo, hi;
  std::copy(d.begin(), d.begin() + 8, lo.begin());
  std::copy(d.begin() + 8, d.end(), hi.begin());
  CHECK_FALSE(lo == zero);
  CHECK_FALSE(hi == zero);
  CHECK_FALSE(lo == hi);
}
