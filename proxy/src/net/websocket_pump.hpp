#pragma once
// One direction of a relayed WebSocket: frames read from one side, checked, and written to the
// other. The pump re-frames as it goes: each piece of a message that has arrived goes out at once
// as a frame of its own (the message keeps its boundaries, its fragmentation does not), so every
// write is a whole frame, a control frame can always go between two, and no more than one read
// buffer of data waits in the proxy while the receiver is slow: TCP pushes back on the sender.
//
// A compressed message is decompressed (its size counted after decompression, so a small
// message that inflates past max_message_size is refused with 1009 after at most one output
// buffer), and compressed again when the receiving side negotiated permessage-deflate.
//
// Buffers exist while traffic does: the read buffer is made when bytes arrive, grows up to
// max_queued_bytes while reads fill it, and is let go whenever the pump has consumed everything
// and waits; the compression streams and their buffers go too once no message is under way.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "config/config.hpp"
#include "net/io_types.hpp"
#include "net/websocket_message_limit.hpp"
#include "net/websocket_side.hpp"
#include "websocket/frame_header.hpp"
#include "websocket/message_deflater.hpp"
#include "websocket/message_inflater.hpp"
#include "websocket/utf8_validator.hpp"

namespace sluice::net {

/// Relays everything `from` sends to `to` until `from`'s connection ends.
class websocket_pump {
 public:
  /// `limit` (client to upstream only; null otherwise) counts messages; `early` holds bytes
  /// already read from `from` (what followed its handshake).
  websocket_pump(websocket_side& from, websocket_side& to, const config::websocket_settings& settings,
                 const message_limit* limit, std::string_view early);
  websocket_pump(const websocket_pump&) = delete;
  websocket_pump& operator=(const websocket_pump&) = delete;

  /// Reads and relays until `from` is closed, fails, or is dropped.
  task<void> run();

 private:
  // Takes the bytes in the read buffer as far as they go (whole frame headers, whole control
  // frames, any part of a data payload).
  task<void> process();
  // A data frame's header was read: message order, the message's start, its size.
  bool start_frame();
  // A new message: admission against messages_per_ip, decompression and compression set up.
  void start_message();
  // A piece of a data frame's payload, unmasked; `last` ends the message.
  task<void> relay_piece(std::span<std::uint8_t> piece, bool last);
  // Passes a piece of the message on, compressing it for `to` when it negotiated that.
  task<void> emit(std::span<std::uint8_t> data, bool fin);
  // Writes one frame of the message to `to`.
  task<bool> send_data(std::span<std::uint8_t> payload, bool fin, bool compressed);
  // A control frame, whole and unmasked.
  task<void> control(std::span<std::uint8_t> payload);
  // `from` broke a rule: closes it with `code` and the other side with `other_code`.
  void violation(websocket::close_code code, std::string_view reason,
                 websocket::close_code other_code, bool framing_lost);
  // `from`'s connection ended with `ec` (EOF included).
  void ended(const boost::system::error_code& ec);
  // True while what `from` sends may go to `to`.
  bool can_relay() const { return !from_.close_got && !to_.close_sent && !to_.gone && !violated_; }
  // The read buffer, made (or grown, after a read that filled it), its leftover moved to the
  // front; let go by release_idle() when empty.
  void ensure_input(bool grow);
  void release_idle();
  std::span<std::uint8_t> output(std::unique_ptr<std::uint8_t[]>& buf);

  websocket_side& from_;
  websocket_side& to_;
  websocket_link& link_;
  const config::websocket_settings& settings_;
  const message_limit* limit_;
  const std::size_t chunk_;  // output buffer size, and the read buffer's first size

  std::unique_ptr<std::uint8_t[]> in_;  // bytes read from `from`, [in_begin_, in_end_) unused
  std::size_t in_cap_ = 0;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  std::unique_ptr<std::uint8_t[]> inflated_;  // decompressed, on its way out
  std::unique_ptr<std::uint8_t[]> deflated_;  // compressed for `to`

  websocket::frame_header frame_;  // the frame being read
  bool in_frame_ = false;          // its header is read, some payload is not
  std::uint64_t frame_left_ = 0;   // payload bytes still to come
  std::uint64_t frame_offset_ = 0; // payload bytes come so far (the masking key's position)

  bool in_message_ = false;     // a data message has started and not ended
  bool text_ = false;           // it is text
  bool compressed_ = false;     // it came compressed
  bool compress_out_ = false;   // it goes out compressed
  bool out_started_ = false;    // its first frame has gone out
  bool dropping_ = false;       // over messages_per_ip with action drop: not relayed
  std::uint64_t message_bytes_ = 0;  // its size so far (decompressed)
  websocket::utf8_validator utf8_;
  websocket::message_inflater inflater_;
  websocket::message_deflater deflater_;

  bool violated_ = false;  // a close of the proxy's own went out over this direction's sender
  bool lost_ = false;      // framing lost: the rest of `from` is read and dropped until EOF
};

}  // namespace sluice::net
