#include "websocket/frame_header.hpp"

#include <cstring>

namespace sluice::websocket {
namespace {

bool known_opcode(std::uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

// The key rotated so that key[0] applies to the piece's first byte, repeated to 8 bytes: the
// XOR then runs a word at a time.
std::uint64_t key_word(const mask_key& key, std::uint64_t offset) {
  std::array<std::uint8_t, 8> rotated{};
  for (std::size_t i = 0; i < 8; ++i) rotated[i] = key[(offset + i) % 4];
  std::uint64_t word = 0;
  std::memcpy(&word, rotated.data(), 8);
  return word;
}

}  // namespace

parsed_header parse_header(std::span<const std::uint8_t> bytes, bool from_client, bool deflate) {
  parsed_header out;
  if (bytes.size() < 2) return out;
  const std::uint8_t b0 = bytes[0];
  const std::uint8_t b1 = bytes[1];
  auto fail = [&out](const char* why) {
    out.status = header_status::protocol_error;
    out.error = why;
    return out;
  };
  frame_header& h = out.header;
  h.fin = (b0 & 0x80) != 0;
  h.rsv1 = (b0 & 0x40) != 0;
  const std::uint8_t op = b0 & 0x0F;
  h.masked = (b1 & 0x80) != 0;
  if ((b0 & 0x30) != 0) return fail("reserved bit RSV2 or RSV3 set");
  if (!known_opcode(op)) return fail("reserved opcode");
  h.op = static_cast<opcode>(op);
  if (h.rsv1 && (!deflate || is_control(h.op) || h.op == opcode::continuation))
    return fail("RSV1 set where no extension allows it");
  if (h.masked != from_client)
    return fail(from_client ? "unmasked frame from a client" : "masked frame from a server");
  std::size_t size = 2;
  const std::uint8_t len7 = b1 & 0x7F;
  if (len7 < 126) {
    h.length = len7;
  } else if (len7 == 126) {
    if (bytes.size() < 4) return out;
    h.length = (std::uint64_t{bytes[2]} << 8) | bytes[3];
    if (h.length < 126) return fail("frame length not in its shortest form");
    size = 4;
  } else {
    if (bytes.size() < 10) return out;
    h.length = 0;
    for (std::size_t i = 2; i < 10; ++i) h.length = (h.length << 8) | bytes[i];
    if ((h.length >> 63) != 0) return fail("frame length with the high bit set");
    if (h.length <= 0xFFFF) return fail("frame length not in its shortest form");
    size = 10;
  }
  if (is_control(h.op)) {
    if (!h.fin) return fail("fragmented control frame");
    if (h.length > max_control_payload) return fail("control frame over 125 bytes");
  }
  if (h.masked) {
    if (bytes.size() < size + 4) return out;
    std::memcpy(h.mask.data(), bytes.data() + size, 4);
    size += 4;
  }
  out.status = header_status::ok;
  out.size = size;
  return out;
}

std::size_t write_header(const frame_header& h, std::span<std::uint8_t, max_header_bytes> out) {
  out[0] = static_cast<std::uint8_t>((h.fin ? 0x80 : 0) | (h.rsv1 ? 0x40 : 0) |
                                     static_cast<std::uint8_t>(h.op));
  const std::uint8_t mask_bit = h.masked ? 0x80 : 0;
  std::size_t size = 2;
  if (h.length < 126) {
    out[1] = static_cast<std::uint8_t>(mask_bit | h.length);
  } else if (h.length <= 0xFFFF) {
    out[1] = mask_bit | 126;
    out[2] = static_cast<std::uint8_t>(h.length >> 8);
    out[3] = static_cast<std::uint8_t>(h.length);
    size = 4;
  } else {
    out[1] = mask_bit | 127;
    for (std::size_t i = 0; i < 8; ++i) out[2 + i] = static_cast<std::uint8_t>(h.length >> (56 - 8 * i));
    size = 10;
  }
  if (h.masked) {
    std::memcpy(out.data() + size, h.mask.data(), 4);
    size += 4;
  }
  return size;
}

void apply_mask(std::span<std::uint8_t> data, const mask_key& key, std::uint64_t offset) {
  const std::uint64_t word = key_word(key, offset);
  std::size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    std::uint64_t v = 0;
    std::memcpy(&v, data.data() + i, 8);
    v ^= word;
    std::memcpy(data.data() + i, &v, 8);
  }
  for (; i < data.size(); ++i) data[i] ^= key[(offset + i) % 4];
}

void remask(std::span<std::uint8_t> data, const mask_key& from, std::uint64_t from_offset,
            const mask_key& to, std::uint64_t to_offset) {
  const std::uint64_t word = key_word(from, from_offset) ^ key_word(to, to_offset);
  std::size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    std::uint64_t v = 0;
    std::memcpy(&v, data.data() + i, 8);
    v ^= word;
    std::memcpy(data.data() + i, &v, 8);
  }
  for (; i < data.size(); ++i)
    data[i] ^= static_cast<std::uint8_t>(from[(from_offset + i) % 4] ^ to[(to_offset + i) % 4]);
}

}  // namespace sluice::websocket
