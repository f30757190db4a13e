#pragma once
// Incremental UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF), fed a message piece by piece as it is relayed: a text message, or a close reason,
// is refused at its first bad byte, wherever the pieces happen to split a character.

#include <cstdint>
#include <span>

namespace sluice::websocket {

/// Checks one text stream; reset() between messages.
class utf8_validator {
 public:
  /// Feeds the next bytes; false at the first byte no valid UTF-8 can contain here.
  bool feed(std::span<const std::uint8_t> bytes);
  /// True when the bytes so far end on a character boundary (call at the message's end).
  bool complete() const { return need_ == 0; }
  /// Forgets everything fed (a new message).
  void reset() {
    need_ = 0;
    lo_ = 0x80;
    hi_ = 0xBF;
  }

 private:
  std::uint8_t need_ = 0;   // continuation bytes still to come in this character
  std::uint8_t lo_ = 0x80;  // range of the next continuation byte: narrower after E0, ED, F0, F4
  std::uint8_t hi_ = 0xBF;
};

/// True when `bytes` is valid UTF-8 as a whole.
bool is_valid_utf8(std::span<const std::uint8_t> bytes);

}  // namespace sluice::websocket
