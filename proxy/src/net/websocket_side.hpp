#pragma once
// One connection of a relayed WebSocket: the socket, what was negotiated on it, where its closing
// handshake stands, and every write to it. Frames to one side come from the direction that
// relays to it and from the relay's own closes; each write is a whole frame, and a writer waits
// at the link's gate while another is on the wire, so frames never interleave.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include "net/io_types.hpp"
#include "net/websocket_link.hpp"
#include "websocket/close_frame.hpp"
#include "websocket/deflate_negotiation.hpp"
#include "websocket/frame_header.hpp"

namespace sluice::net {

using websocket::close_frame;
using websocket::copy_close;
using websocket::make_close;

/// The client's or the upstream's connection.
struct websocket_side {
  using clock = std::chrono::steady_clock;

  /// Over `socket`; `client` for the client's connection (the proxy is its server).
  websocket_side(socket_t socket, bool client, websocket_link& link)
      : socket(std::move(socket)), client(client), link(link) {}

  /// "client" or "upstream", for log lines.
  const char* name() const { return client ? "client" : "upstream"; }
  /// Sends one data or control frame; toward the upstream it is masked with a fresh key, which
  /// changes `payload` in place. False when it was not written: the connection failed (it is then
  /// dropped, so its reader ends too), or a close went to this side first (nothing may follow).
  task<bool> send(websocket::frame_header h, std::span<std::uint8_t> payload);
  /// Sends a close frame, once, from a coroutine of its own (a side that reads nothing must not
  /// stop the caller); when this side's own close has already come, the handshake then ends.
  void send_close(const close_frame& frame);
  /// This side's close frame has come: when ours has gone out, the handshake ends.
  void close_received();
  /// Drops the connection now (deadlines passed, or the write failed).
  void abort();
  /// Nothing more will be written to it (its connection ended).
  void mark_gone();

  socket_t socket;           ///< the connection
  bool client;               ///< frames from it are masked, frames to it are not
  websocket_link& link;      ///< what the relay shares
  std::optional<websocket::deflate_params> deflate;  ///< permessage-deflate, when negotiated
  bool close_sent = false;      ///< a close frame to it is queued or written
  bool close_written = false;   ///< and it is out
  bool close_got = false;       ///< its close frame has come
  bool awaiting_reply = false;  ///< its close went on to the other side, whose answer comes back
  std::optional<std::uint16_t> close_code;  ///< the code of its close, when it had one
  bool gone = false;            ///< its connection ended: nothing more is written to it
  bool failed = false;          ///< it broke the framing: no close of its own is waited for
  bool writing = false;         ///< a frame is on the wire
  clock::time_point write_started = clock::time_point::max();  ///< since then (max: none)
  /// Called once when this side is done: its closing handshake complete (the client's, just
  /// before sluice's FIN), or its connection gone. For the client, that frees its WebSocket slot
  /// before the client can see the end and try again.
  std::function<void()> on_done;

 private:
  // The coroutine send_close() spawns; the frame is its own copy.
  task<void> write_close(close_frame frame);
  // Writes the frame, waiting for the gate; the close frame bypasses the "close sent" check.
  task<bool> write_frame(websocket::frame_header h, std::span<std::uint8_t> payload, bool is_close);
  // Runs on_done, once.
  void done();
  // Both close frames have crossed: as the server, send our FIN (RFC 6455 7.1.1: the server
  // closes the TCP connection first); as the client, wait for the upstream's, unless it failed
  // the connection (7.1.7: then either end closes).
  void finish_handshake();
};

}  // namespace sluice::net
