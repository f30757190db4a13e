// Addresses and CIDR blocks: parsing, text forms, masks, containment, IPv4-mapped forms.

#include "common/ip_address.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace {

using namespace sluice;

ip_address ip(std::string_view text) {
  const auto a = ip_address::parse(text);
  REQUIRE_MESSAGE(a.has_value(), text);
  return *a;
}

cidr block(std::string_view text) {
  std::string error;
  const auto c = cidr::parse(text, &error);
  REQUIRE_MESSAGE(c.has_value(), text << ": " << error);
  return *c;
}

// The error cidr::parse reports for `text`, or "parsed" when it accepts it.
std::string cidr_error(std::string_view text) {
  std::string error;
  return cidr::parse(text, &error) ? std::string("parsed") : error;
}

}  // namespace

TEST_CASE("IPv4 addresses parse into the IPv4-mapped form and print as dotted quads") {
  const ip_address a = ip("192.0.2.1");
  CHECK(a.is_v4());
  CHECK(a == ip_address::v4(192, 0, 2, 1));
  for (int i = 0; i < 10; ++i) CHECK(a.bytes[i] == 0);
  CHECK(a.bytes[10] == 0xff);
  CHECK(a.bytes[11] == 0xff);
  CHECK(a.bytes[12] == 192);
  CHECK(a.bytes[15] == 1);
  CHECK(a.to_string() == "192.0.2.1");
  CHECK(ip("0.0.0.0").to_string() == "0.0.0.0");
  CHECK(ip("255.255.255.255").to_string() == "255.255.255.255");
}

TEST_CASE("IPv6 addresses parse and print in RFC 5952 form") {
  CHECK(ip("2001:DB8::1").to_string() == "2001:db8::1");
  CHECK(ip("2001:0db8:0000:0000:0000:0000:0000:0001").to_string() == "2001:db8::1");
  CHECK(ip("2001:db8:0:0:1:0:0:1").to_string() == "2001:db8::1:0:0:1");  // first longest run
  CHECK(ip("2001:db8:0:1:1:1:1:1").to_string() == "2001:db8:0:1:1:1:1:1");  // one zero: no ::
  CHECK(ip("::").to_string() == "::");
  CHECK(ip("::1").to_string() == "::1");
  CHECK_FALSE(ip("::1").is_v4());
  CHECK_FALSE(ip("::").is_v4());
  CHECK_FALSE(ip("2001:db8::1").is_v4());
  CHECK(ip("2001:db8::1").bytes[0] == 0x20);
  CHECK(ip("2001:db8::1").bytes[15] == 0x01);
}

TEST_CASE("an IPv4-mapped IPv6 address is the same address as its IPv4 form") {
  CHECK(ip("::ffff:192.0.2.1") == ip("192.0.2.1"));
  CHECK(ip("::ffff:c000:201") == ip("192.0.2.1"));
  CHECK(ip("::ffff:192.0.2.1").is_v4());
  CHECK(ip("::ffff:192.0.2.1").to_string() == "192.0.2.1");
  // Near misses are plain IPv6.
  CHECK_FALSE(ip("::fffe:c000:201").is_v4());
  CHECK_FALSE(ip("1::ffff:c000:201").is_v4());
}

TEST_CASE("malformed addresses do not parse") {
  for (const char* text : {"", " ", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.-4", "1.2.3.4 ",
                           " 1.2.3.4", "1.2.3.4/8", "1.2.3.4:80", "[::1]", "fe80::1%eth0",
                           "2001:db8::1::2", "gggg::", "2001:db8:1:2:3:4:5:6:7", "localhost",
                           "::ffff:1.2.3.4.5"}) {
    CAPTURE(text);
    CHECK_FALSE(ip_address::parse(text).has_value());
  }
  // Longer than any textual address: refused before inet_pton sees it.
  CHECK_FALSE(ip_address::parse(std::string(46, '1')).has_value());
  CHECK_FALSE(ip_address::parse(std::string(1000, ':')).has_value());
  // Exactly the longest textual form still parses.
  CHECK(ip_address::parse("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255").has_value());
}

TEST_CASE("masking keeps the prefix bits and clears the rest, at any bit position") {
  const ip_address v6 = ip("2001:db8:1:ffff:1:2:3:4");
  CHECK(v6.masked(128) == v6);
  CHECK(v6.masked(64) == ip("2001:db8:1:ffff::"));
  CHECK(v6.masked(57) == ip("2001:db8:1:ff80::"));
  CHECK(v6.masked(48) == ip("2001:db8:1::"));
  CHECK(v6.masked(1) == ip("::"));
  CHECK(ip("8000::1").masked(1) == ip("8000::"));
  CHECK(v6.masked(0) == ip("::"));

  const ip_address v4 = ip("192.0.2.129");
  CHECK(v4.masked(96 + 32) == v4);
  CHECK(v4.masked(96 + 25) == ip("192.0.2.128"));
  CHECK(v4.masked(96 + 24) == ip("192.0.2.0"));
  CHECK(v4.masked(96 + 1) == ip("128.0.0.0"));
  CHECK(v4.masked(96) == ip("0.0.0.0"));
  CHECK(v4.masked(96).is_v4());
  CHECK_FALSE(v4.masked(95).is_v4());
}

TEST_CASE("an IPv4 block is written in IPv4 terms and stored on the IPv6 form") {
  const cidr c = block("10.0.0.0/8");
  CHECK(c.prefix_bits == 104);
  CHECK(c.network == ip("10.0.0.0"));
  CHECK(c.to_string() == "10.0.0.0/8");
  CHECK(c.contains(ip("10.0.0.0")));
  CHECK(c.contains(ip("10.255.255.255")));
  CHECK(c.contains(ip("::ffff:10.1.2.3")));
  CHECK_FALSE(c.contains(ip("11.0.0.0")));
  CHECK_FALSE(c.contains(ip("9.255.255.255")));
  CHECK_FALSE(c.contains(ip("a00::1")));  // IPv6 bytes that start like 10.x are not IPv4

  CHECK(block("192.0.2.128/25").contains(ip("192.0.2.200")));
  CHECK_FALSE(block("192.0.2.128/25").contains(ip("192.0.2.127")));
  CHECK(block("192.0.2.128/25").to_string() == "192.0.2.128/25");
}

TEST_CASE("the whole IPv4 space contains no IPv6 address, the whole IPv6 space contains all") {
  const cidr v4_all = block("0.0.0.0/0");
  CHECK(v4_all.prefix_bits == 96);
  CHECK(v4_all.to_string() == "0.0.0.0/0");
  CHECK(v4_all.contains(ip("203.0.113.1")));
  CHECK_FALSE(v4_all.contains(ip("2001:db8::1")));
  CHECK_FALSE(v4_all.contains(ip("::1")));

  const cidr all = block("::/0");
  CHECK(all.prefix_bits == 0);
  CHECK(all.to_string() == "::/0");
  CHECK(all.contains(ip("2001:db8::1")));
  CHECK(all.contains(ip("203.0.113.1")));
}

TEST_CASE("IPv6 blocks contain exactly their addresses") {
  const cidr c = block("2001:db8::/32");
  CHECK(c.prefix_bits == 32);
  CHECK(c.to_string() == "2001:db8::/32");
  CHECK(c.contains(ip("2001:db8::")));
  CHECK(c.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
  CHECK_FALSE(c.contains(ip("2001:db9::")));
  CHECK_FALSE(c.contains(ip("2001:db7:ffff::")));
  CHECK(block("2001:db8:1:2::/63").contains(ip("2001:db8:1:3::9")));
  CHECK_FALSE(block("2001:db8:1:2::/63").contains(ip("2001:db8:1:4::")));
}

TEST_CASE("a bare address is a host block") {
  const cidr v4 = block("192.0.2.7");
  CHECK(v4.prefix_bits == 128);
  CHECK(v4.to_string() == "192.0.2.7/32");
  CHECK(v4.contains(ip("192.0.2.7")));
  CHECK_FALSE(v4.contains(ip("192.0.2.6")));
  const cidr v6 = block("2001:db8::7");
  CHECK(v6.prefix_bits == 128);
  CHECK(v6.to_string() == "2001:db8::7/128");
  CHECK(v6.contains(ip("2001:db8::7")));
  CHECK_FALSE(v6.contains(ip("2001:db8::8")));
  CHECK(block("192.0.2.7/32") == v4);
}

TEST_CASE("a block in IPv6 notation over IPv4-mapped addresses counts its prefix in IPv6 bits") {
  // ::ffff:0:0/96 is every IPv4 address, written the IPv6 way.
  const cidr all_v4 = block("::ffff:0:0/96");
  CHECK(all_v4 == block("0.0.0.0/0"));
  CHECK(all_v4.contains(ip("192.0.2.1")));
  CHECK_FALSE(all_v4.contains(ip("2001:db8::1")));
  CHECK(block("::ffff:10.0.0.0/104") == block("10.0.0.0/8"));
  CHECK(block("::ffff:10.0.0.0/104").contains(ip("10.9.8.7")));
  CHECK(block("::ffff:192.0.2.1/128") == block("192.0.2.1/32"));
  // An IPv6-notation /8 is ::/8, whatever the address after it looks like.
  CHECK(cidr_error("::ffff:10.0.0.0/8") == "host bits set past the prefix length");
  CHECK(cidr_error("::ffff:10.0.0.0/129") == "prefix length over 128");
}

TEST_CASE("malformed blocks are refused with the reason") {
  CHECK(cidr_error("10.0.0.1/8") == "host bits set past the prefix length");
  CHECK(cidr_error("2001:db8::1/32") == "host bits set past the prefix length");
  CHECK(cidr_error("10.0.0.0/33") == "prefix length over 32");
  CHECK(cidr_error("2001:db8::/129") == "prefix length over 128");
  CHECK(cidr_error("10.0.0.0/") == "prefix length is not a number");
  CHECK(cidr_error("10.0.0.0/x") == "prefix length is not a number");
  CHECK(cidr_error("10.0.0.0/8x") == "prefix length is not a number");
  CHECK(cidr_error("10.0.0.0/-1") == "prefix length is not a number");
  CHECK(cidr_error("10.0.0.0/ 8") == "prefix length is not a number");
  CHECK(cidr_error("10.0.0.0/99999999999999999999") == "prefix length is not a number");
  CHECK(cidr_error("10.0.0.0/8/8") == "prefix length is not a number");
  CHECK(cidr_error("nonsense/8") == "not an IP address");
  CHECK(cidr_error("/8") == "not an IP address");
  CHECK(cidr_error("") == "not an IP address");
  CHECK(cidr_error("10.0.0/8") == "not an IP address");
  CHECK(cidr_error("10.0.0.0/32") == "parsed");
  CHECK(cidr_error("::/128") == "parsed");
  // The error out-parameter is optional.
  CHECK_FALSE(cidr::parse("10.0.0.1/8").has_value());
}
