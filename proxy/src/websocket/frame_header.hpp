#pragma once
// RFC 6455 5.2 frame headers, read from and written to bytes, with every check that one header
// allows on its own: reserved bits, known opcodes, control frames whole and short, masking by
// direction, the shortest length encoding. Which frame may follow which (a continuation needs a
// message, RSV1 only on a message's first frame) is the reader's to check: it needs the message.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace sluice::websocket {

/// Frame opcodes (RFC 6455 5.2); 3-7 and 11-15 are reserved and refused.
enum class opcode : std::uint8_t {
  continuation = 0x0,  ///< the next piece of the current message
  text = 0x1,          ///< first frame of a UTF-8 message
  binary = 0x2,        ///< first frame of a binary message
  close = 0x8,         ///< the closing handshake
  ping = 0x9,          ///< liveness probe; answered by a pong with the same payload
  pong = 0xA,          ///< answer to a ping (or unsolicited: a one-way heartbeat)
};

/// True for close, ping and pong: never fragmented, at most 125 bytes.
constexpr bool is_control(opcode op) { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

/// A masking key (RFC 6455 5.3).
using mask_key = std::array<std::uint8_t, 4>;

/// One frame's header.
struct frame_header {
  bool fin = true;                  ///< last frame of its message
  bool rsv1 = false;                ///< permessage-deflate: the message is compressed
  opcode op = opcode::binary;       ///< what the frame carries
  bool masked = false;              ///< payload XORed with `mask` (every client frame)
  mask_key mask{};                  ///< the key, when masked
  std::uint64_t length = 0;         ///< payload bytes
};

/// The longest header: two bytes, eight of extended length, four of masking key.
inline constexpr std::size_t max_header_bytes = 14;
/// The longest control frame payload (RFC 6455 5.5).
inline constexpr std::size_t max_control_payload = 125;

/// What parse_header found at the start of the bytes.
enum class header_status {
  ok,              ///< a whole header: `header` and `size` are set
  need_more,       ///< the bytes end inside the header
  protocol_error,  ///< a header RFC 6455 forbids: fail the connection with 1002
};

/// parse_header's answer.
struct parsed_header {
  header_status status = header_status::need_more;  ///< whether a header was found
  frame_header header;                              ///< the header, when ok
  std::size_t size = 0;                             ///< its bytes, when ok
  const char* error = "";                           ///< what was wrong, for the log and the close
};

/// Reads the header at the start of `bytes`. `from_client`: frames must be masked (from a
/// server they must not be). `deflate`: permessage-deflate was negotiated, so RSV1 may be set.
parsed_header parse_header(std::span<const std::uint8_t> bytes, bool from_client, bool deflate);

/// Writes `h` into `out` in its shortest form; returns the bytes written.
std::size_t write_header(const frame_header& h, std::span<std::uint8_t, max_header_bytes> out);

/// XORs `data` with `key`; `offset` is how many payload bytes of the frame came before `data`
/// (masking runs over the whole payload, so a piece starts at key byte offset % 4).
void apply_mask(std::span<std::uint8_t> data, const mask_key& key, std::uint64_t offset);

/// Unmasks `data` with `from` and masks it with `to` in one pass (a client frame relayed to a
/// server with a key of the proxy's own).
void remask(std::span<std::uint8_t> data, const mask_key& from, std::uint64_t from_offset,
            const mask_key& to, std::uint64_t to_offset);

}  // namespace sluice::websocket
