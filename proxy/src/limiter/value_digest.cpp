#include "limiter/value_digest.hpp"

#include <cstring>
#include <random>

namespace sluice::limiter {
namespace {

struct sip_key {
  std::uint64_t k0, k1;
};

std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

// SipHash-2-4 (Aumasson and Bernstein), written from the paper's description.
std::uint64_t siphash24(const sip_key& key, std::string_view data) {
  std::uint64_t v0 = 0x736f6d6570736575ull ^ key.k0;
  std::uint64_t v1 = 0x646f72616e646f6dull ^ key.k1;
  std::uint64_t v2 = 0x6c7967656e657261ull ^ key.k0;
  std::uint64_t v3 = 0x7465646279746573ull ^ key.k1;
  auto round = [&] {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  };
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t n = data.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t m;
    std::memcpy(&m, p + i, 8);  // little-endian hosts only, as Linux on x86-64 and arm64 are
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  std::uint64_t last = static_cast<std::uint64_t>(n & 0xff) << 56;
  for (std::size_t j = 0; i + j < n; ++j) last |= static_cast<std::uint64_t>(p[i + j]) << (8 * j);
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xff;
  round();
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

const std::array<sip_key, 2>& process_keys() {
  static const std::array<sip_key, 2> keys = [] {
    std::random_device rd;
    auto word = [&] { return (std::uint64_t{rd()} << 32) | rd(); };
    return std::array<sip_key, 2>{sip_key{word(), word()}, sip_key{word(), word()}};
  }();
  return keys;
}

}  // namespace

std::array<std::uint8_t, 16> value_digest(std::string_view value) {
  const auto& keys = process_keys();
  const std::uint64_t a = siphash24(keys[0], value);
  const std::uint64_t b = siphash24(keys[1], value);
  std::array<std::uint8_t, 16> out;
  std::memcpy(out.data(), &a, 8);
  std::memcpy(out.data() + 8, &b, 8);
  return out;
}

}  // namespace sluice::limiter
