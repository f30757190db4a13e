#pragma once
// The identity of one counter: which limit, and whose (an IP, the route, a header value's digest).

#include <array>
#include <cstdint>
#include <cstring>

namespace sluice::limiter {

/// Fixed-size key so the table never allocates for it: 8 bytes of limit id, 16 of value.
struct limit_key {
  std::uint64_t limit_id = 0;             ///< config::limit::id
  std::array<std::uint8_t, 16> value{};  ///< masked IP bytes, zeros (route), or a keyed digest

  friend bool operator==(const limit_key&, const limit_key&) = default;
};

/// Hash of a key; the value bytes are already an address or a keyed digest, this only mixes.
inline std::uint64_t hash_of(const limit_key& k) {
  std::uint64_t a, b;
  std::memcpy(&a, k.value.data(), 8);
  std::memcpy(&b, k.value.data() + 8, 8);
  std::uint64_t h = k.limit_id ^ (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xc2b2ae3d27d4eb4full);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace sluice::limiter
