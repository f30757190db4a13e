#pragma once
// A close frame's payload held by value: the relay sends closes from coroutines of their own,
// which must not point into a read buffer that moves on.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "websocket/close_code.hpp"

namespace sluice::websocket {

/// Code and reason, as they go on the wire.
struct close_frame {
  std::array<std::uint8_t, max_close_reason + 2> bytes{};  ///< code, then reason
  std::size_t size = 0;                                     ///< 0: a close without a code
  /// The code, when there is one.
  std::optional<std::uint16_t> code() const {
    if (size < 2) return std::nullopt;
    return static_cast<std::uint16_t>((bytes[0] << 8) | bytes[1]);
  }
};

/// A close with `code` and `reason` (cut to fit on a character boundary).
close_frame make_close(std::uint16_t code, std::string_view reason);
/// A copy of a received close frame's payload (already checked by read_close).
close_frame copy_close(std::span<const std::uint8_t> payload);

}  // namespace sluice::websocket
