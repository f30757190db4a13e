#pragma once
// Close codes (RFC 6455 7.4 and the IANA registry) and close frame payloads: which codes a
// close frame may carry, the ones sluice sends itself, and reading and writing the payload.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace sluice::websocket {

/// The codes sluice itself closes with (docs/configuration.md has the table of when).
enum class close_code : std::uint16_t {
  normal = 1000,          ///< the closing handshake on behalf of a side that has none to give
  going_away = 1001,      ///< idle timeout, shutdown, the other side gone
  protocol_error = 1002,  ///< a frame RFC 6455 forbids, an invalid close code
  bad_payload = 1007,     ///< a text message or close reason that is not UTF-8
  policy = 1008,          ///< a client over messages_per_ip
  too_big = 1009,         ///< a message over max_message_size, from either side
  internal_error = 1011,  ///< no memory for a compression stream
};

/// True for a code a close frame may carry: 1000-1003, 1007-1014 (defined or registered),
/// 3000-4999 (libraries and applications). 1004, 1005, 1006 and 1015 are reserved, never sent;
/// 0-999, 1016-2999 and 5000 upwards are not in use.
constexpr bool is_valid_close_code(std::uint32_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

/// A close frame's payload: a code and a reason, or neither.
struct close_payload {
  std::optional<std::uint16_t> code;  ///< absent in an empty close frame
  std::string_view reason;            ///< UTF-8; points into the frame
};

/// What read_close found wrong, as the code to fail the connection with (or none).
enum class close_problem { none, protocol_error, bad_payload };

/// Reads a close frame's (unmasked) payload: one byte, or a code not allowed, is a protocol
/// error; a reason that is not UTF-8 is bad payload (1007).
close_problem read_close(std::span<const std::uint8_t> payload, close_payload& out);

/// Longest reason that fits a close frame next to its code.
inline constexpr std::size_t max_close_reason = 123;

/// Writes a close payload (code, then `reason` cut to what fits on a character boundary)
/// into `out`; returns its size.
std::size_t write_close(std::uint16_t code, std::string_view reason,
                        std::span<std::uint8_t, max_close_reason + 2> out);

}  // namespace sluice::websocket
