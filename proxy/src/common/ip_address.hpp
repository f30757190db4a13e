#pragma once
// Client addresses and CIDR blocks, kept as 16 bytes so IPv4 and IPv6 share one code path.
// No Asio here: config, routing and the limiter use these without linking networking.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

/// An IPv4 or IPv6 address; IPv4 is stored as its IPv4-mapped IPv6 form (::ffff:a.b.c.d).
struct ip_address {
  std::array<std::uint8_t, 16> bytes{};

  /// Parses dotted IPv4 or textual IPv6 (no brackets, no zone); nullopt when malformed.
  static std::optional<ip_address> parse(std::string_view text);
  /// Builds an IPv4 address from its four bytes.
  static ip_address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);

  /// True for an IPv4-mapped address.
  bool is_v4() const;
  /// This address with every bit past `prefix_bits` (counted on the IPv6 form) cleared.
  ip_address masked(unsigned prefix_bits) const;
  /// Text form: dotted quad for IPv4, RFC 5952 for IPv6.
  std::string to_string() const;

  friend bool operator==(const ip_address&, const ip_address&) = default;
};

/// A network block such as 10.0.0.0/8 or 2001:db8::/32.
struct cidr {
  ip_address network;   ///< already masked to prefix_bits
  unsigned prefix_bits = 128;  ///< on the IPv6 form: an IPv4 /8 is stored as /104

  /// Parses "addr/len" or a bare address (a host block); nullopt with `error` set when malformed.
  static std::optional<cidr> parse(std::string_view text, std::string* error = nullptr);
  /// True when `addr` lies inside this block.
  bool contains(const ip_address& addr) const;
  /// Text form as an operator wrote it (IPv4 prefix in IPv4 terms).
  std::string to_string() const;

  friend bool operator==(const cidr&, const cidr&) = default;
};

}  // namespace sluice
