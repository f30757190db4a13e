#include "websocket/close_code.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace sluice::websocket;

namespace {

std::vector<std::uint8_t> payload(unsigned code, std::string reason = "") {
  std::vector<std::uint8_t> out(2 + reason.size());
  out[0] = static_cast<std::uint8_t>(code >> 8);
  out[1] = static_cast<std::uint8_t>(code);
  std::copy(reason.begin(), reason.end(), out.begin() + 2);
  return out;
}

}  // namespace

TEST_CASE("close codes: the defined, registered and private ones are valid, the rest are not") {
  for (const unsigned ok : {1000u, 1001u, 1002u, 1003u, 1007u, 1008u, 1009u, 1010u, 1011u, 1012u,
                            1013u, 1014u, 3000u, 3999u, 4000u, 4999u})
    CHECK_MESSAGE(is_valid_close_code(ok), ok);
  for (const unsigned bad : {0u, 1u, 999u, 1004u, 1005u, 1006u, 1015u, 1016u, 1100u, 2000u, 2999u,
                             5000u, 65535u})
    CHECK_MESSAGE(!is_valid_close_code(bad), bad);
}

TEST_CASE("close payloads: empty, code, code and reason; bad ones say which code to fail with") {
  close_payload p;
  CHECK(read_close({}, p) == close_problem::none);
  CHECK(!p.code);
  const auto one = payload(4000, "done");
  CHECK(read_close(one, p) == close_problem::none);
  CHECK(p.code == 4000);
  CHECK(p.reason == "done");
  const std::vector<std::uint8_t> single{0x03};
  CHECK(read_close(single, p) == close_problem::protocol_error);
  CHECK(read_close(payload(5000), p) == close_problem::protocol_error);
  CHECK(read_close(payload(1005), p) == close_problem::protocol_error);
  CHECK(read_close(payload(1000, "\xC3\x28"), p) == close_problem::bad_payload);
}

TEST_CASE("close payloads: a long reason is cut to 123 bytes on a character boundary") {
  std::array<std::uint8_t, max_close_reason + 2> out{};
  std::string reason(122, 'a');
  reason += "\xE2\x9C\x93";  // a three-byte character across the limit
  const std::size_t n = write_close(1001, reason, out);
  CHECK(n == 2 + 122);
  close_payload p;
  CHECK(read_close(std::span<const std::uint8_t>(out.data(), n), p) == close_problem::none);
  CHECK(p.code == 1001);
  CHECK(p.reason == std::string(122, 'a'));
}
