#pragma once
// Compresses permessage-deflate messages (RFC 7692 7.2.1) one at a time, flushing after every
// piece so that each piece can go out as a frame at once. With context takeover off, every
// message starts from a reset stream; the owner lets the stream go (end()) when no message is
// under way, so an idle WebSocket holds no deflater.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <zlib.h>

namespace sluice::websocket {

/// One direction's compressor.
class message_deflater {
 public:
  message_deflater() = default;
  ~message_deflater();
  message_deflater(const message_deflater&) = delete;
  message_deflater& operator=(const message_deflater&) = delete;

  /// Starts a message: window 2^`window_bits` (9-15), zlib `mem_level` (1-9) and `level`
  /// (1-9), resetting the stream of the message before when it has the same; false when zlib
  /// has no memory for it.
  bool begin(int window_bits, int mem_level, int level);
  /// What one call did.
  struct result {
    std::size_t consumed = 0;  ///< bytes of the input taken
    std::size_t produced = 0;  ///< bytes written to the output
    bool more = false;         ///< the output was full: call again (with the rest of the input)
    bool error = false;        ///< zlib failed
  };
  /// Compresses `in` into `out` (at least 16 bytes: zlib repeats flush markers for ever when a
  /// flush has fewer than 7 bytes of room) and flushes. `last`: `in` ends the message;
  /// the flush's 00 00 FF FF tail is then left out, as RFC 7692 7.2.1 asks.
  result deflate(std::span<const std::uint8_t> in, std::span<std::uint8_t> out, bool last);
  /// Frees the stream.
  void end();
  /// True between begin() and end().
  bool active() const { return active_; }

 private:
  z_stream z_{};
  bool active_ = false;
  int window_bits_ = 0;  // the stream's parameters, while active
  int mem_level_ = 0;
  int level_ = 0;
  std::array<std::uint8_t, 4> held_{};  // the last bytes out, kept back until they are known
  std::size_t held_n_ = 0;              // not to be the tail a last flush ends with
};

}  // namespace sluice::websocket
