// Who the client is: forwarding headers are believed only from trusted proxies, right to left.

#include "routing/client_ip.hpp"

#include <doctest/doctest.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace sluice;
using routing::client_ip;
using routing::parse_forwarded_element;
using routing::parse_forwarded_for_element;
using headers = std::vector<std::string_view>;

ip_address ip(std::string_view text) {
  const auto a = ip_address::parse(text);
  REQUIRE(a.has_value());
  return *a;
}

std::vector<cidr> blocks(std::initializer_list<const char*> texts) {
  std::vector<cidr> out;
  for (const char* t : texts) {
    const auto c = cidr::parse(t);
    REQUIRE(c.has_value());
    out.push_back(*c);
  }
  return out;
}

const std::vector<cidr>& proxies() {
  static const std::vector<cidr> p = blocks({"10.0.0.0/8", "2001:db8:ffff::/48"});
  return p;
}

std::string client(std::string_view peer, headers xff, headers fwd = {},
                   const std::vector<cidr>& trusted = proxies()) {
  return client_ip(ip(peer), xff, fwd, trusted).to_string();
}

}  // namespace

TEST_CASE("an untrusted peer is the client, whatever it writes in forwarding headers") {
  CHECK(client("203.0.113.7", {}) == "203.0.113.7");
  CHECK(client("203.0.113.7", {"198.51.100.1"}) == "203.0.113.7");
  CHECK(client("203.0.113.7", {"10.0.0.5, 198.51.100.1"}) == "203.0.113.7");
  CHECK(client("203.0.113.7", {}, {"for=198.51.100.1"}) == "203.0.113.7");
  CHECK(client("2001:db8:1::7", {"198.51.100.1"}, {"for=198.51.100.2"}) == "2001:db8:1::7");
}

TEST_CASE("with no trusted proxies configured the peer is always the client") {
  const std::vector<cidr> none;
  CHECK(client("10.0.0.1", {"198.51.100.1"}, {}, none) == "10.0.0.1");
  CHECK(client("10.0.0.1", {}, {"for=198.51.100.1"}, none) == "10.0.0.1");
}

TEST_CASE("behind trusted proxies the client is the right-most untrusted address") {
  CHECK(client("10.0.0.1", {"198.51.100.9"}) == "198.51.100.9");
  CHECK(client("10.0.0.1", {"198.51.100.9, 10.0.0.2"}) == "198.51.100.9");
  CHECK(client("10.0.0.1", {"198.51.100.9,10.0.0.3 ,\t10.0.0.2"}) == "198.51.100.9");
  CHECK(client("2001:db8:ffff::1", {"198.51.100.9, 2001:db8:ffff::2"}) == "198.51.100.9");
  // Without forwarding headers a trusted proxy is itself the client.
  CHECK(client("10.0.0.1", {}) == "10.0.0.1");
}

TEST_CASE("addresses a client writes itself sit further left and change nothing") {
  // The proxy appends the address it saw; anything to the left of it is the client's word.
  const std::string honest = client("10.0.0.1", {"198.51.100.9"});
  CHECK(client("10.0.0.1", {"6.6.6.6, 198.51.100.9"}) == honest);
  CHECK(client("10.0.0.1", {"10.0.0.77, 6.6.6.6, 198.51.100.9"}) == honest);
  CHECK(client("10.0.0.1", {"garbage, 198.51.100.9"}) == honest);
  CHECK(client("10.0.0.1", {"6.6.6.6", "198.51.100.9"}) == honest);
  CHECK(client("10.0.0.1", {}, {"for=6.6.6.6, for=198.51.100.9"}) == honest);
}

TEST_CASE("several header instances form one list in arrival order") {
  CHECK(client("10.0.0.1", {"198.51.100.9", "10.0.0.2"}) == "198.51.100.9");
  CHECK(client("10.0.0.1", {"203.0.113.1", "198.51.100.9, 10.0.0.2", "10.0.0.3"}) ==
        "198.51.100.9");
  CHECK(client("10.0.0.1", {"", "198.51.100.9"}) == "198.51.100.9");
  CHECK(client("10.0.0.1", {}, {"for=198.51.100.9", "for=10.0.0.2;proto=https"}) ==
        "198.51.100.9");
}

TEST_CASE("X-Forwarded-For elements may carry ports and brackets") {
  CHECK(client("10.0.0.1", {"198.51.100.9:4711"}) == "198.51.100.9");
  CHECK(client("10.0.0.1", {"[2001:db8:1::9]:443"}) == "2001:db8:1::9");
  CHECK(client("10.0.0.1", {"[2001:db8:1::9]"}) == "2001:db8:1::9");
  CHECK(client("10.0.0.1", {"2001:db8:1::9"}) == "2001:db8:1::9");
  CHECK(client("10.0.0.1", {"198.51.100.9, [2001:db8:ffff::5]:80"}) == "198.51.100.9");
  CHECK(parse_forwarded_for_element(" 198.51.100.9 ")->to_string() == "198.51.100.9");
  CHECK(parse_forwarded_for_element("::ffff:198.51.100.9")->to_string() == "198.51.100.9");
}

TEST_CASE("malformed X-Forwarded-For elements are not addresses") {
  CHECK_FALSE(parse_forwarded_for_element(""));
  CHECK_FALSE(parse_forwarded_for_element("   "));
  CHECK_FALSE(parse_forwarded_for_element("garbage"));
  CHECK_FALSE(parse_forwarded_for_element("unknown"));
  CHECK_FALSE(parse_forwarded_for_element("198.51.100"));
  CHECK_FALSE(parse_forwarded_for_element("198.51.100.256"));
  CHECK_FALSE(parse_forwarded_for_element("[2001:db8::1"));
  CHECK_FALSE(parse_forwarded_for_element("[]"));
  CHECK_FALSE(parse_forwarded_for_element("2001:db8::1:80:x"));
  CHECK_FALSE(parse_forwarded_for_element("example.com:80"));
}

TEST_CASE("an element that is not an address stops the walk at the last trusted hop") {
  // The proxy at 10.0.0.2 wrote something we cannot read: we vouch for nothing left of it.
  CHECK(client("10.0.0.1", {"198.51.100.9, garbage, 10.0.0.2"}) == "10.0.0.2");
  CHECK(client("10.0.0.1", {"198.51.100.9, garbage"}) == "10.0.0.1");
  CHECK(client("10.0.0.1", {"garbage"}) == "10.0.0.1");
  CHECK(client("10.0.0.1", {}, {"for=198.51.100.9, for=unknown"}) == "10.0.0.1");
  CHECK(client("10.0.0.1", {}, {"for=198.51.100.9, for=_hidden, for=10.0.0.2"}) == "10.0.0.2");
}

TEST_CASE("when every hop is a trusted proxy the left-most one is the client") {
  CHECK(client("10.0.0.1", {"10.0.0.3, 10.0.0.2"}) == "10.0.0.3");
  CHECK(client("10.0.0.1", {"2001:db8:ffff::3, 10.0.0.2"}) == "2001:db8:ffff::3");
  CHECK(client("10.0.0.1", {}, {"for=10.0.0.3"}) == "10.0.0.3");
}

TEST_CASE("Forwarded for= accepts quotes, IPv6 in brackets, ports and any case") {
  CHECK(client("10.0.0.1", {}, {"for=198.51.100.9"}) == "198.51.100.9");
  CHECK(client("10.0.0.1", {}, {"for=\"198.51.100.9:8080\""}) == "198.51.100.9");
  CHECK(client("10.0.0.1", {}, {"for=\"[2001:db8:1::9]\""}) == "2001:db8:1::9");
  CHECK(client("10.0.0.1", {}, {"for=\"[2001:db8:1::9]:4711\";proto=https"}) == "2001:db8:1::9");
  CHECK(client("10.0.0.1", {}, {"proto=https; For=198.51.100.9; by=10.0.0.1"}) == "198.51.100.9");
  CHECK(client("10.0.0.1", {}, {"FOR=198.51.100.9"}) == "198.51.100.9");
  CHECK(parse_forwarded_element("by=10.0.0.1;proto=http") == std::nullopt);
  CHECK(parse_forwarded_element("for=") == std::nullopt);
  CHECK(parse_forwarded_element("form=198.51.100.9") == std::nullopt);
  CHECK(parse_forwarded_element("for=\"_gazonk\"") == std::nullopt);
}

TEST_CASE("X-Forwarded-For is read instead of Forwarded when both are present") {
  CHECK(client("10.0.0.1", {"198.51.100.1"}, {"for=198.51.100.2"}) == "198.51.100.1");
}
