#include "websocket/message_deflater.hpp"
#include "websocket/message_inflater.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace sluice::websocket;

namespace {

std::vector<std::uint8_t> text_bytes(std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>("{\"cpu\": 12.5, \"ok\": true} "[i % 27]);
  return out;
}

// Compresses `in` as one message fed in pieces of `step` through an output of `chunk` bytes.
std::vector<std::uint8_t> compress(const std::vector<std::uint8_t>& in, std::size_t step,
                                   std::size_t chunk, int bits = 15) {
  message_deflater d;
  REQUIRE(d.begin(bits, 4, 6));
  std::vector<std::uint8_t> out;
  std::vector<std::uint8_t> buf(chunk);
  std::size_t pos = 0;
  do {
    const std::size_t n = std::min(step, in.size() - pos);
    std::span<const std::uint8_t> piece(in.data() + pos, n);
    pos += n;
    const bool last = pos == in.size();
    message_deflater::result r;
    do {
      r = d.deflate(piece, buf, last);
      REQUIRE(!r.error);
      piece = piece.subspan(r.consumed);
      out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.produced));
    } while (r.more);
    CHECK(piece.empty());
  } while (pos < in.size());
  d.end();
  return out;
}

// Decompresses one message fed in pieces of `step`; stops (and says so) past `cap` bytes.
std::vector<std::uint8_t> decompress(const std::vector<std::uint8_t>& in, std::size_t step,
                                     std::size_t chunk, std::size_t cap, bool& over, int bits = 15) {
  message_inflater f;
  REQUIRE(f.begin(bits));
  std::vector<std::uint8_t> out;
  std::vector<std::uint8_t> buf(chunk);
  std::size_t pos = 0;
  over = false;
  for (;;) {
    const std::size_t n = std::min(step, in.size() - pos);
    std::span<const std::uint8_t> piece(in.data() + pos, n);
    pos += n;
    const bool last = pos == in.size();
    for (;;) {
      const auto r = f.inflate(piece, buf, last);
      REQUIRE(!r.error);
      piece = piece.subspan(r.consumed);
      out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.produced));
      if (out.size() > cap) {
        over = true;
        return out;
      }
      if (r.done) return out;
      if (piece.empty() && !last && r.produced < buf.size()) break;
    }
  }
}

}  // namespace

TEST_CASE("deflate then inflate gives the message back, whatever the pieces and buffers") {
  for (const std::size_t size : {0u, 1u, 100u, 5000u, 300000u}) {
    const auto message = text_bytes(size);
    for (const std::size_t step : {1u << 30, 7u, 4096u}) {
      if (size > 10000 && step == 7) continue;
      for (const std::size_t chunk : {16u, 1000u, 16384u}) {
        const auto packed = compress(message, step, chunk);
        // The stripped tail is never sent.
        if (packed.size() >= 4)
          CHECK_FALSE((packed[packed.size() - 4] == 0 && packed[packed.size() - 3] == 0 &&
                       packed[packed.size() - 2] == 0xFF && packed[packed.size() - 1] == 0xFF));
        bool over = false;
        CHECK(decompress(packed, step, chunk, SIZE_MAX, over) == message);
        CHECK(!over);
      }
    }
  }
}

TEST_CASE("a small window reads what a small window wrote") {
  const auto message = text_bytes(50000);
  bool over = false;
  CHECK(decompress(compress(message, 1000, 4096, 9), 1000, 4096, SIZE_MAX, over, 9) == message);
}

TEST_CASE("a compressed bomb is caught at the cap, with no more than one output buffer past it") {
  const std::vector<std::uint8_t> zeros(64 * 1024 * 1024, 0);
  const auto packed = compress(zeros, 1 << 20, 16384);
  CHECK(packed.size() < 100 * 1024);  // 64 MiB of zeros in under 100 KiB
  bool over = false;
  const auto out = decompress(packed, 4096, 16384, 1024 * 1024, over);
  CHECK(over);
  CHECK(out.size() <= 1024 * 1024 + 16384);
}

TEST_CASE("data that is not deflate is an error") {
  message_inflater f;
  REQUIRE(f.begin(15));
  std::vector<std::uint8_t> junk{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  std::vector<std::uint8_t> buf(100);
  CHECK(f.inflate(junk, buf, true).error);
}

TEST_CASE("a message whose last piece is empty still ends without the flush tail") {
  // Relaying a compressed message, the data often comes before the frame that ends it: the last
  // call then has no input, and the tail to leave out is the one the call before ended with.
  message_deflater d;
  REQUIRE(d.begin(15, 4, 6));
  std::vector<std::uint8_t> buf(1024), out;
  const std::vector<std::uint8_t> data{0xAB, 0xCD};
  auto r = d.deflate(data, buf, false);
  out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.produced));
  r = d.deflate({}, buf, true);
  out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.produced));
  REQUIRE(out.size() >= 4);
  CHECK_FALSE((out[out.size() - 4] == 0 && out[out.size() - 3] == 0 && out[out.size() - 2] == 0xFF &&
               out[out.size() - 1] == 0xFF));
  // A receiver that keeps one stream for every message (context takeover on its side) reads this
  // message, then the next, without a stored block out of place.
  z_stream z{};
  REQUIRE(inflateInit2(&z, -15) == Z_OK);
  for (int round = 0; round < 2; ++round) {
    std::vector<std::uint8_t> in = out;
    in.insert(in.end(), {0x00, 0x00, 0xFF, 0xFF});
    std::vector<std::uint8_t> plain(64);
    z.next_in = in.data();
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = plain.data();
    z.avail_out = static_cast<uInt>(plain.size());
    const int ret = inflate(&z, Z_SYNC_FLUSH);
    CHECK((ret == Z_OK || ret == Z_BUF_ERROR));
    CHECK(z.avail_in == 0);
    CHECK(plain.size() - z.avail_out == 2);
    CHECK(plain[0] == 0xAB);
  }
  inflateEnd(&z);
}

TEST_CASE("one deflater and one inflater carry message after message (reset, not made again)") {
  message_deflater d;
  message_inflater f;
  std::vector<std::uint8_t> packed(64 * 1024), plain(64 * 1024);
  for (int i = 0; i < 5; ++i) {
    const auto message = text_bytes(1000 + 3000 * static_cast<std::size_t>(i));
    REQUIRE(d.begin(12, 4, 6));
    const auto c = d.deflate(message, packed, true);
    REQUIRE(!c.more);
    REQUIRE(f.begin(12));
    const auto r = f.inflate(std::span<const std::uint8_t>(packed.data(), c.produced), plain, true);
    REQUIRE(!r.error);
    const auto tail = f.inflate({}, std::span<std::uint8_t>(plain.data() + r.produced, plain.size() - r.produced), true);
    CHECK(tail.done);
    CHECK(std::vector<std::uint8_t>(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(r.produced + tail.produced)) == message);
  }
}
