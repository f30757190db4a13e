#include "websocket/frame_header.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace sluice::websocket;

namespace {

std::vector<std::uint8_t> bytes(std::initializer_list<int> list) {
  std::vector<std::uint8_t> out;
  for (const int b : list) out.push_back(static_cast<std::uint8_t>(b));
  return out;
}

parsed_header parse(const std::vector<std::uint8_t>& b, bool from_client = true, bool deflate = false) {
  return parse_header(b, from_client, deflate);
}

}  // namespace

TEST_CASE("frame headers: short, 16-bit and 64-bit lengths round-trip, masked or not") {
  for (const std::uint64_t length : {0ULL, 1ULL, 125ULL, 126ULL, 65535ULL, 65536ULL, 1ULL << 40}) {
    for (const bool masked : {false, true}) {
      frame_header h;
      h.fin = length % 2 == 0;
      h.op = opcode::binary;
      h.masked = masked;
      h.mask = {1, 2, 3, 4};
      h.length = length;
      std::array<std::uint8_t, max_header_bytes> buf{};
      const std::size_t n = write_header(h, buf);
      const auto p = parse_header(std::span<const std::uint8_t>(buf.data(), n), masked, false);
      REQUIRE(p.status == header_status::ok);
      CHECK(p.size == n);
      CHECK(p.header.length == length);
      CHECK(p.header.fin == h.fin);
      CHECK(p.header.masked == masked);
      if (masked) CHECK(p.header.mask == h.mask);
      // Every shorter prefix asks for more.
      for (std::size_t k = 0; k < n; ++k)
        CHECK(parse_header(std::span<const std::uint8_t>(buf.data(), k), masked, false).status ==
              header_status::need_more);
    }
  }
}

TEST_CASE("frame headers: what RFC 6455 forbids is a protocol error") {
  CHECK(parse(bytes({0xA2, 0x80, 0, 0, 0, 0})).status == header_status::protocol_error);  // RSV2
  CHECK(parse(bytes({0x92, 0x80, 0, 0, 0, 0})).status == header_status::protocol_error);  // RSV3
  CHECK(parse(bytes({0xC2, 0x80, 0, 0, 0, 0})).status == header_status::protocol_error);  // RSV1, no deflate
  CHECK(parse(bytes({0xC2, 0x80, 0, 0, 0, 0}), true, true).status == header_status::ok);
  CHECK(parse(bytes({0xC0, 0x80, 0, 0, 0, 0}), true, true).status == header_status::protocol_error);  // RSV1 on continuation
  CHECK(parse(bytes({0xC9, 0x80, 0, 0, 0, 0}), true, true).status == header_status::protocol_error);  // RSV1 on ping
  for (const int op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15})
    CHECK(parse(bytes({0x80 | op, 0x80, 0, 0, 0, 0})).status == header_status::protocol_error);
  CHECK(parse(bytes({0x09, 0x80, 0, 0, 0, 0})).status == header_status::protocol_error);  // fragmented ping
  CHECK(parse(bytes({0x89, 0xFE, 0, 126, 0, 0, 0, 0})).status == header_status::protocol_error);  // ping of 126
  CHECK(parse(bytes({0x82, 0x00})).status == header_status::protocol_error);  // client, unmasked
  CHECK(parse(bytes({0x82, 0x80, 0, 0, 0, 0}), false).status == header_status::protocol_error);  // server, masked
  CHECK(parse(bytes({0x82, 0x00}), false).status == header_status::ok);
  CHECK(parse(bytes({0x82, 0xFE, 0, 125, 0, 0, 0, 0})).status == header_status::protocol_error);  // not shortest
  CHECK(parse(bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0})).status ==
        header_status::protocol_error);
  CHECK(parse(bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})).status ==
        header_status::protocol_error);  // 64-bit length with the high bit
}

TEST_CASE("masking: pieces at any offset give what one pass gives; remask is unmask then mask") {
  std::vector<std::uint8_t> data(1000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  const mask_key a{0x12, 0x34, 0x56, 0x78};
  const mask_key b{0x9A, 0xBC, 0xDE, 0xF0};
  auto whole = data;
  apply_mask(whole, a, 0);
  for (std::size_t i = 0; i < data.size(); ++i) REQUIRE(whole[i] == (data[i] ^ a[i % 4]));
  auto pieces = data;
  std::size_t off = 0;
  for (const std::size_t n : {3u, 0u, 17u, 1u, 500u, 479u}) {
    apply_mask(std::span<std::uint8_t>(pieces.data() + off, n), a, off);
    off += n;
  }
  CHECK(pieces == whole);
  auto re = whole;
  remask(std::span<std::uint8_t>(re.data() + 5, 995), a, 5, b, 2);
  for (std::size_t i = 5; i < data.size(); ++i) REQUIRE(re[i] == (data[i] ^ b[(i - 5 + 2) % 4]));
}
