// Limit keys: per ip, per route, per header value, and IPv6 counted per network.

#include "routing/key_builder.hpp"

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "limiter/value_digest.hpp"

namespace {

using namespace sluice;
using routing::build_keys;
using routing::key_address;
using routing::key_list;

ip_address ip(std::string_view text) {
  const auto a = ip_address::parse(text);
  REQUIRE(a.has_value());
  return *a;
}

config::limit limit_per(std::uint64_t id, config::key_kind per, std::string header = {}) {
  config::limit l;
  l.id = id;
  l.per = per;
  l.header = std::move(header);
  l.rate = config::rate{60, std::chrono::minutes(1)};
  return l;
}

config::route three_limits() {
  config::route r;
  r.name = "api";
  r.limits = {limit_per(11, config::key_kind::ip), limit_per(12, config::key_kind::route),
              limit_per(13, config::key_kind::header, "x-api-key")};
  return r;
}

// A request's headers, looked up by lower-case name as build_keys asks for them.
struct header_map {
  std::map<std::string, std::string, std::less<>> values;
  std::string_view operator()(std::string_view name) const {
    const auto it = values.find(name);
    return it == values.end() ? std::string_view{} : std::string_view(it->second);
  }
};

key_list keys_of(const config::route& r, const ip_address& addr, header_map h) {
  key_list out;
  build_keys(r, key_address(addr, 64), h, out);
  return out;
}

constexpr std::array<std::uint8_t, 16> zeros{};

}  // namespace

TEST_CASE("each limit gets its key at its own index, tagged with the limit's id") {
  const auto r = three_limits();
  const auto keys = keys_of(r, ip("198.51.100.7"), {{{"x-api-key", "k-123"}}});
  REQUIRE(keys.size() == 3);
  CHECK(keys[0].limit_id == 11);
  CHECK(keys[1].limit_id == 12);
  CHECK(keys[2].limit_id == 13);
  CHECK(keys[0].value == ip("198.51.100.7").bytes);
  CHECK(keys[1].value == zeros);
  CHECK(keys[2].value == limiter::value_digest("k-123"));
}

TEST_CASE("per-ip keys differ by client, the per-route key is shared by all clients") {
  const auto r = three_limits();
  const auto a = keys_of(r, ip("198.51.100.7"), {});
  const auto b = keys_of(r, ip("198.51.100.8"), {});
  CHECK_FALSE(a[0] == b[0]);
  CHECK(a[1] == b[1]);
}

TEST_CASE("per-header keys follow the header value, not the client") {
  const auto r = three_limits();
  const auto a = keys_of(r, ip("198.51.100.7"), {{{"x-api-key", "k-1"}}});
  const auto b = keys_of(r, ip("203.0.113.9"), {{{"x-api-key", "k-1"}}});
  const auto c = keys_of(r, ip("198.51.100.7"), {{{"x-api-key", "k-2"}}});
  CHECK(a[2] == b[2]);
  CHECK_FALSE(a[2] == c[2]);
}

TEST_CASE("an absent or empty header falls back to the client address") {
  const auto r = three_limits();
  const auto absent = keys_of(r, ip("198.51.100.7"), {});
  const auto empty = keys_of(r, ip("198.51.100.7"), {{{"x-api-key", ""}}});
  const auto other_header = keys_of(r, ip("198.51.100.7"), {{{"x-other", "k-1"}}});
  CHECK(absent[2].value == ip("198.51.100.7").bytes);
  CHECK(absent[2].limit_id == 13);
  CHECK(empty[2] == absent[2]);
  CHECK(other_header[2] == absent[2]);
}

TEST_CASE("the header is looked up by the limit's lower-case name") {
  const auto r = three_limits();
  std::string asked;
  key_list out;
  build_keys(r, ip("198.51.100.7"),
             [&](std::string_view name) {
               asked = std::string(name);
               return std::string_view("v");
             },
             out);
  CHECK(asked == "x-api-key");
  CHECK(out[2].value == limiter::value_digest("v"));
}

TEST_CASE("IPv6 clients are keyed by their /64, IPv4 clients by their address") {
  const auto same_a = key_address(ip("2001:db8:1:2::1"), 64);
  const auto same_b = key_address(ip("2001:db8:1:2:ffff:eeee:dddd:cccc"), 64);
  const auto other = key_address(ip("2001:db8:1:3::1"), 64);
  CHECK(same_a == same_b);
  CHECK_FALSE(same_a == other);
  CHECK(same_a.to_string() == "2001:db8:1:2::");

  const auto r = three_limits();
  CHECK(keys_of(r, ip("2001:db8:1:2::1"), {})[0] == keys_of(r, ip("2001:db8:1:2::99"), {})[0]);
  CHECK_FALSE(keys_of(r, ip("2001:db8:1:2::1"), {})[0] ==
              keys_of(r, ip("2001:db8:1:3::1"), {})[0]);

  // IPv4 lives in the last 32 bits of its mapped form: a /64 mask must not touch it.
  CHECK(key_address(ip("198.51.100.7"), 64) == ip("198.51.100.7"));
  CHECK_FALSE(key_address(ip("198.51.100.7"), 64) == key_address(ip("198.51.100.8"), 64));

  // The prefix is configurable.
  CHECK(key_address(ip("2001:db8:1:2::1"), 48) == key_address(ip("2001:db8:1:3::1"), 48));
  CHECK(key_address(ip("2001:db8:1:2::1"), 128) == ip("2001:db8:1:2::1"));
}

TEST_CASE("building keys replaces what the list held") {
  const auto r = three_limits();
  key_list out;
  build_keys(r, ip("198.51.100.7"), header_map{}, out);
  build_keys(r, ip("198.51.100.8"), header_map{}, out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].value == ip("198.51.100.8").bytes);
}
