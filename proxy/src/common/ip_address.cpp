#include "common/ip_address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace sluice {

std::optional<ip_address> ip_address::parse(std::string_view text) {
  // inet_pton wants a NUL-terminated string; the longest textual IPv6 form fits in 46 bytes.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  ip_address out;
  in_addr v4{};
  if (::inet_pton(AF_INET, buf, &v4) == 1) {
    out.bytes[10] = out.bytes[11] = 0xff;
    std::memcpy(out.bytes.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, buf, &v6) == 1) {
    std::memcpy(out.bytes.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

ip_address ip_address::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  ip_address out;
  out.bytes[10] = out.bytes[11] = 0xff;
  out.bytes[12] = a;
  out.bytes[13] = b;
  out.bytes[14] = c;
  out.bytes[15] = d;
  return out;
}

bool ip_address::is_v4() const {
  for (int i = 0; i < 10; ++i)
    if (bytes[i] != 0) return false;
  return bytes[10] == 0xff && bytes[11] == 0xff;
}

ip_address ip_address::masked(unsigned prefix_bits) const {
  ip_address out = *this;
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned first_bit = i * 8;
    if (prefix_bits >= first_bit + 8) continue;
    const unsigned keep = prefix_bits > first_bit ? prefix_bits - first_bit : 0;
    out.bytes[i] &= static_cast<std::uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  return out;
}

std::string ip_address::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_v4()) {
    ::inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
  } else {
    ::inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  }
  return buf;
}

std::optional<cidr> cidr::parse(std::string_view text, std::string* error) {
  auto fail = [&](const char* why) -> std::optional<cidr> {
    if (error) *error = why;
    return std::nullopt;
  };
  const auto slash = text.find('/');
  const auto addr = ip_address::parse(text.substr(0, slash));
  if (!addr) return fail("not an IP address");
  // The notation, not the address, says how the length counts: "::ffff:0:0/96" is IPv6 notation
  // (every IPv4 address), so its length is in IPv6 bits even though the address is IPv4-mapped.
  const bool v4_notation =
      addr->is_v4() && text.substr(0, slash).find(':') == std::string_view::npos;
  const unsigned family_bits = v4_notation ? 32 : 128;
  unsigned len = family_bits;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size())
      return fail("prefix length is not a number");
    if (len > family_bits)
      return fail(v4_notation ? "prefix length over 32" : "prefix length over 128");
  }
  const unsigned bits = v4_notation ? len + 96 : len;
  cidr out;
  out.prefix_bits = bits;
  out.network = addr->masked(bits);
  if (!(out.network == *addr)) return fail("host bits set past the prefix length");
  return out;
}

bool cidr::contains(const ip_address& addr) const { return addr.masked(prefix_bits) == network; }

std::string cidr::to_string() const {
  const unsigned len = network.is_v4() && prefix_bits >= 96 ? prefix_bits - 96 : prefix_bits;
  return network.to_string() + "/" + std::to_string(len);
}

}  // namespace sluice
