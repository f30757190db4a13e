// host:port for listeners (IP literals) and the upstream (names too).
#include "config/endpoint_parser.hpp"

#include <doctest/doctest.h>

using sluice::config::endpoint;
using sluice::config::format_endpoint;
using sluice::config::host_rule;
using sluice::config::parse_endpoint;

namespace {

std::string endpoint_error(std::string_view text, host_rule rule) {
  std::string why;
  const auto e = parse_endpoint(text, rule, &why);
  return e ? "<parsed>" : why;
}

}  // namespace

TEST_CASE("parse_endpoint reads IPv4, bracketed IPv6 and host names") {
  CHECK(parse_endpoint("127.0.0.1:8080", host_rule::ip_literal) == endpoint{"127.0.0.1", 8080});
  CHECK(parse_endpoint("[::1]:8080", host_rule::ip_literal) == endpoint{"::1", 8080});
  CHECK(parse_endpoint("backend.internal:9000", host_rule::ip_or_hostname) ==
        endpoint{"backend.internal", 9000});
  CHECK(parse_endpoint("localhost:1", host_rule::ip_or_hostname) == endpoint{"localhost", 1});
  CHECK(parse_endpoint("0.0.0.0:65535", host_rule::ip_literal) == endpoint{"0.0.0.0", 65535});
  // A listener on port 0 takes any free port (tests rely on it).
  CHECK(parse_endpoint("127.0.0.1:0", host_rule::ip_literal) == endpoint{"127.0.0.1", 0});
}

TEST_CASE("parse_endpoint refuses what cannot be connected to or bound") {
  const auto ip = host_rule::ip_literal;
  const auto any = host_rule::ip_or_hostname;
  CHECK(endpoint_error("127.0.0.1", ip) == "missing port (expected host:port)");
  CHECK(endpoint_error(":8080", ip) == "missing host (expected host:port)");
  CHECK(endpoint_error("127.0.0.1:0", any) == "port must be between 1 and 65535");
  CHECK(endpoint_error("127.0.0.1:65536", ip) == "port must be between 0 and 65535");
  CHECK(endpoint_error("127.0.0.1:65536", any) == "port must be between 1 and 65535");
  CHECK(endpoint_error("127.0.0.1:http", ip) == "port is not a number");
  CHECK(endpoint_error("::1:8080", ip) == "an IPv6 address goes in brackets, e.g. \"[::1]:8080\"");
  CHECK(endpoint_error("[::1]", ip) == "missing port (expected [ipv6]:port)");
  CHECK(endpoint_error("[::1:8080", ip) == "missing \"]\" after an IPv6 address");
  CHECK(endpoint_error("[127.0.0.1]:80", ip) == "brackets hold an IPv6 address only");
  CHECK(endpoint_error("localhost:8080", ip) ==
        "host must be an IP address (e.g. 127.0.0.1 or [::1]), not a name");
  CHECK(endpoint_error("300.1.1.1:80", any) == "host is neither an IP address nor a valid host name");
  CHECK(endpoint_error("bad_name:80", any) == "host is neither an IP address nor a valid host name");
  CHECK(endpoint_error("-bad.example:80", any) == "host is neither an IP address nor a valid host name");
}

TEST_CASE("format_endpoint brackets IPv6") {
  CHECK(format_endpoint({"::1", 8080}) == "[::1]:8080");
  CHECK(format_endpoint({"127.0.0.1", 8080}) == "127.0.0.1:8080");
}
