#include "net/head_writer.hpp"

#include <doctest/doctest.h>

#include <string>

using sluice::net::head_writer;

TEST_CASE("head_writer: appends pieces, fields and numbers, and trims to what it wrote") {
  std::string out = "kept:";
  {
    head_writer w(out, 256);
    w.put("HTTP/1.1 ");
    w.number(200);
    w.put(' ');
    w.put("OK\r\n");
    w.field("Content-Length", "0");
    w.number(0);
    w.number(18446744073709551615ull);
  }
  CHECK(out == "kept:HTTP/1.1 200 OK\r\nContent-Length: 0\r\n018446744073709551615");
}

TEST_CASE("head_writer: an estimate that falls short only costs a grow") {
  for (const std::size_t estimate : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
    std::string out;
    std::string expected;
    {
      head_writer w(out, estimate);
      for (int i = 0; i < 200; ++i) {
        const std::string value(static_cast<std::size_t>(i), 'v');
        w.field("X-" + std::to_string(i), value);
        w.number(static_cast<std::uint64_t>(i) * 1000003u);
        expected += "X-" + std::to_string(i) + ": " + value + "\r\n" +
                    std::to_string(static_cast<std::uint64_t>(i) * 1000003u);
      }
    }
    CAPTURE(estimate);
    CHECK(out == expected);
  }
}

TEST_CASE("head_writer: empty views (null data, like an absent query) write nothing") {
  // memcpy from a null source is undefined even for zero bytes: the sanitizer build checks it.
  std::string out;
  {
    head_writer w(out, 16);
    w.put(std::string_view{});
    w.field("X-Empty", std::string_view{});
    w.field(std::string_view{}, "v");
  }
  CHECK(out == "X-Empty: \r\n: v\r\n");
}
