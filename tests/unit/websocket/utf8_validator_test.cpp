#include "websocket/utf8_validator.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace sluice::websocket;

namespace {

std::span<const std::uint8_t> span_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

bool valid(const std::string& s) { return is_valid_utf8(span_of(s)); }

}  // namespace

TEST_CASE("UTF-8: valid text of every length passes, split anywhere") {
  const std::string text = "ascii only, then \xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80 and \xF4\x8F\xBF\xBF end";
  CHECK(valid(text));
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    utf8_validator v;
    CHECK(v.feed(span_of(text.substr(0, cut))));
    CHECK(v.feed(span_of(text.substr(cut))));
    CHECK(v.complete());
  }
}

TEST_CASE("UTF-8: overlong forms, surrogates, code points past U+10FFFF and stray bytes fail") {
  for (const std::string bad : {"\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xED\xA0\x80",
                                "\xED\xBF\xBF", "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF",
                                "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF", "\x80", "\xC3\x28",
                                "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80" "edited"})
    CHECK_MESSAGE(!valid(bad), bad);
  utf8_validator v;
  CHECK(v.feed(span_of(std::string("\xE2\x9C"))));
  CHECK(!v.complete());  // a message may not end inside a character
}
