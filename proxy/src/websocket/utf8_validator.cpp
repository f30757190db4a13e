#include "websocket/utf8_validator.hpp"

#include <cstring>

namespace sluice::websocket {

bool utf8_validator::feed(std::span<const std::uint8_t> bytes) {
  const std::uint8_t* p = bytes.data();
  const std::uint8_t* const end = p + bytes.size();
  while (p != end) {
    if (need_ == 0) {
      // Most text is ASCII: eight bytes at a time while no high bit is set.
      while (end - p >= 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, p, 8);
        if ((word & 0x8080808080808080ULL) != 0) break;
        p += 8;
      }
      if (p == end) break;
      const std::uint8_t b = *p++;
      if (b < 0x80) continue;
      lo_ = 0x80;
      hi_ = 0xBF;
      if (b >= 0xC2 && b <= 0xDF) {
        need_ = 1;
      } else if (b == 0xE0) {
        need_ = 2;
        lo_ = 0xA0;  // no overlong three-byte forms
      } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
        need_ = 2;
      } else if (b == 0xED) {
        need_ = 2;
        hi_ = 0x9F;  // no surrogates (U+D800-U+DFFF)
      } else if (b == 0xF0) {
        need_ = 3;
        lo_ = 0x90;  // no overlong four-byte forms
      } else if (b >= 0xF1 && b <= 0xF3) {
        need_ = 3;
      } else if (b == 0xF4) {
        need_ = 3;
        hi_ = 0x8F;  // nothing past U+10FFFF
      } else {
        return false;  // 80-C1 (continuation or overlong lead), F5-FF
      }
    } else {
      const std::uint8_t b = *p++;
      if (b < lo_ || b > hi_) return false;
      --need_;
      lo_ = 0x80;
      hi_ = 0xBF;
    }
  }
  return true;
}

bool is_valid_utf8(std::span<const std::uint8_t> bytes) {
  utf8_validator v;
  return v.feed(bytes) && v.complete();
}

}  // namespace sluice::websocket
