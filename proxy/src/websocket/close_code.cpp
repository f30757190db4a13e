#include "websocket/close_code.hpp"

#include <algorithm>

#include "websocket/utf8_validator.hpp"

namespace sluice::websocket {

close_problem read_close(std::span<const std::uint8_t> payload, close_payload& out) {
  out = {};
  if (payload.empty()) return close_problem::none;
  if (payload.size() == 1) return close_problem::protocol_error;
  const std::uint16_t code = static_cast<std::uint16_t>((payload[0] << 8) | payload[1]);
  if (!is_valid_close_code(code)) return close_problem::protocol_error;
  const auto reason = payload.subspan(2);
  if (!is_valid_utf8(reason)) return close_problem::bad_payload;
  out.code = code;
  out.reason = std::string_view(reinterpret_cast<const char*>(reason.data()), reason.size());
  return close_problem::none;
}

std::size_t write_close(std::uint16_t code, std::string_view reason,
                        std::span<std::uint8_t, max_close_reason + 2> out) {
  std::size_t n = std::min(reason.size(), max_close_reason);
  // Cut before a continuation byte, never inside a character.
  while (n < reason.size() && n > 0 && (static_cast<std::uint8_t>(reason[n]) & 0xC0) == 0x80) --n;
  out[0] = static_cast<std::uint8_t>(code >> 8);
  out[1] = static_cast<std::uint8_t>(code);
  std::copy_n(reason.data(), n, out.begin() + 2);
  return n + 2;
}

}  // namespace sluice::websocket
