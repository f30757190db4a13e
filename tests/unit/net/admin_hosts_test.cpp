// The admin listener's Host check: listed names with or without a port, IP literals of the
// address reached, and everything a rebinding page or a malformed field could send.

#include "net/admin_hosts.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace sluice;
using namespace sluice::net;

namespace {
const std::vector<std::string> defaults{"localhost", "127.0.0.1", "[::1]"};
const ip_address loopback = ip_address::v4(127, 0, 0, 1);
}  // namespace

TEST_CASE("the host part drops the port and lower-cases, IPv6 keeps its brackets") {
  CHECK(admin_host_name("LocalHost:9901") == "localhost");
  CHECK(admin_host_name("127.0.0.1") == "127.0.0.1");
  CHECK(admin_host_name("[::1]:9901") == "[::1]");
  CHECK(admin_host_name("[::1]") == "[::1]");
  CHECK(admin_host_name("localhost:") == "");
  CHECK(admin_host_name("localhost:99x") == "");
  CHECK(admin_host_name("[::1") == "");
  CHECK(admin_host_name("[::1]x") == "");
  CHECK(admin_host_name("::1") == "");
  CHECK(admin_host_name("") == "");
}

TEST_CASE("listed names are served with or without a port") {
  for (const char* h : {"localhost", "localhost:9901", "LOCALHOST:1", "127.0.0.1:9901", "[::1]:9901",
                        "[::1]"})
    CHECK_MESSAGE(admin_host_served(h, defaults, loopback), h);
}

TEST_CASE("a rebinding page's own name, a missing Host and malformed ones are refused") {
  for (const char* h : {"evil.example", "evil.example:9901", "localhost.evil.example", "", "admin",
                        "127.0.0.1.nip.io:9901", "localhost:abc"})
    CHECK_FALSE_MESSAGE(admin_host_served(h, defaults, loopback), h);
}

TEST_CASE("an IP literal is served when it is the address the connection reached") {
  const auto pod = ip_address::v4(10, 1, 2, 3);
  CHECK(admin_host_served("10.1.2.3:9901", defaults, pod));
  CHECK_FALSE(admin_host_served("10.1.2.4:9901", defaults, pod));
  const auto v6 = *ip_address::parse("2001:db8::7");
  CHECK(admin_host_served("[2001:db8:0::7]:9901", defaults, v6));
  CHECK_FALSE(admin_host_served("[2001:db8::8]", defaults, v6));
  // 127.0.0.2 is not listed and not the address reached.
  CHECK_FALSE(admin_host_served("127.0.0.2", defaults, loopback));
}
