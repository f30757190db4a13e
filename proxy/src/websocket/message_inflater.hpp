#pragma once
// Decompresses permessage-deflate messages (RFC 7692 7.2.2) one at a time, piece by piece as
// their frames arrive. With context takeover off, every message starts from a reset stream; the
// owner lets the stream go (end()) when no message is under way, so an idle WebSocket holds no
// inflater.

#include <cstddef>
#include <cstdint>
#include <span>

#include <zlib.h>

namespace sluice::websocket {

/// One direction's decompressor.
class message_inflater {
 public:
  message_inflater() = default;
  ~message_inflater();
  message_inflater(const message_inflater&) = delete;
  message_inflater& operator=(const message_inflater&) = delete;

  /// Starts a message compressed with a window of at most 2^`window_bits` (resetting the
  /// stream of the message before when it had the same); false when zlib has no memory for it.
  bool begin(int window_bits);
  /// What one call did.
  struct result {
    std::size_t consumed = 0;  ///< bytes of the input taken
    std::size_t produced = 0;  ///< bytes written to the output
    bool done = false;         ///< the message is complete: nothing more will come out
    bool error = false;        ///< the data is not a deflate stream
  };
  /// Inflates from `in` into `out`. `last`: `in` ends the message's compressed bytes; the
  /// empty block the sender stripped is then added. Call again while input is left, or while
  /// `last` and not done (the output filled up).
  result inflate(std::span<const std::uint8_t> in, std::span<std::uint8_t> out, bool last);
  /// Frees the stream (the message ended, or the connection).
  void end();
  /// True between begin() and end().
  bool active() const { return active_; }

 private:
  z_stream z_{};
  bool active_ = false;
  int window_bits_ = 0;           // the stream's window, while active
  bool stream_end_ = false;       // the sender ended its deflate stream (BFINAL): ignore the rest
  std::uint8_t tail_left_ = 4;    // bytes of the 00 00 FF FF tail not yet fed
};

}  // namespace sluice::websocket
