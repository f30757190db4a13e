// Byte sizes: plain numbers and binary units.
#include "config/size_parser.hpp"

#include <doctest/doctest.h>

using sluice::config::parse_size;

namespace {

std::string size_error(std::string_view text) {
  std::string why;
  const auto s = parse_size(text, &why);
  return s ? "<parsed>" : why;
}

}  // namespace

TEST_CASE("parse_size reads bytes and binary units") {
  CHECK(parse_size("16384") == 16384u);
  CHECK(parse_size("16KiB") == 16384u);
  CHECK(parse_size("16 KiB") == 16384u);
  CHECK(parse_size("10MiB") == 10u * 1024 * 1024);
  CHECK(parse_size("1GiB") == 1024u * 1024 * 1024);
  CHECK(parse_size("512B") == 512u);
}

TEST_CASE("parse_size refuses ambiguous units and overflow") {
  CHECK(size_error("10MB") == "unknown unit \"MB\" (KiB, MiB, GiB, or a plain number of bytes)");
  CHECK(size_error("10kib") == "unknown unit \"kib\" (KiB, MiB, GiB, or a plain number of bytes)");
  CHECK(size_error("big") == "expected a number of bytes, optionally with KiB, MiB or GiB");
  CHECK(size_error("99999999999999999999") == "size too large");
  CHECK(size_error("99999999999GiB") == "size too large");
}
