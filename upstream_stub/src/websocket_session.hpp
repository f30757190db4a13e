// One WebSocket of the stub: stats pushed on a timer, every client message echoed, close codes
// passed both ways.
#pragma once

#include "http_exchange.hpp"
#include "stats_sampler.hpp"
#include "stub_counters.hpp"
#include "stub_net.hpp"

#include <boost/beast/websocket.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::stub {

namespace websocket = beast::websocket;

/// What a WebSocket endpoint does besides echoing; the same for the three endpoints.
struct websocket_settings {
  /// Period of the stats messages; 0 turns them off (echo only).
  std::chrono::duration<double> push_interval{1.0};
  /// Accept permessage-deflate when the client offers it.
  bool deflate = false;
};

/// A WebSocket served by three coroutines on the connection's strand: a reader (echo and close
/// commands), a pacer (stats on a timer, and the deadline of a close the client never reads) and
/// the one writer that drains the bounded queue both others fill, so frames never interleave.
class websocket_session {
 public:
  /// Answers the upgrade request in `exchange` (the caller has checked path and token), then serves
  /// the WebSocket on the session's socket until it closes; `path` names it in the log.
  static net::awaitable<exchange_result> serve(http_exchange& exchange, std::string path,
                                               stub_counters& counters,
                                               const stats_sampler& sampler,
                                               const websocket_settings& settings);

 private:
  /// A message waiting for the writer.
  struct outgoing {
    /// What to send: a data message of either type, or the close frame (always the last item).
    enum class kind { text, binary, close };
    /// Message type.
    kind what = kind::text;
    /// Message bytes, or the close reason.
    std::string payload;
    /// Close code, for kind::close only.
    std::uint16_t close_code = 0;
  };

  /// Wraps the HTTP session's stream (which keeps owning the socket) and sets the options.
  websocket_session(beast::tcp_stream& stream, const stats_sampler& sampler,
                    const websocket_settings& settings);
  /// Reads messages until the connection ends: echoes them, or queues a close on a close command.
  net::awaitable<void> read_loop();
  /// Sends queued items one at a time until the connection ends or the close frame is sent.
  net::awaitable<void> write_loop();
  /// Queues a stats message every push interval; once a close is queued, drops the connection if
  /// the close has not finished within ws_handshake_timeout.
  net::awaitable<void> pace_loop();
  /// Queues a data message, or closes with 1008 when the client lets the queue grow past its cap.
  void enqueue(outgoing item);
  /// Queues the close frame; nothing is queued after it.
  void close_later(std::uint16_t code, std::string reason);
  /// Called once by the reader when the connection is over: stops the writer and the pacer.
  void finish();
  /// Closes the socket under the WebSocket, which ends every pending operation on it.
  void drop();
  /// How the connection ended, for the log line.
  std::string ending(const beast::error_code& read_error) const;

  /// The WebSocket over the HTTP session's stream.
  websocket::stream<beast::tcp_stream&> ws_;
  /// Where stats messages come from.
  const stats_sampler& sampler_;
  /// Push period.
  websocket_settings settings_;
  /// Items not yet taken by the writer, oldest first.
  std::deque<outgoing> queue_;
  /// Payload bytes in queue_.
  std::size_t queued_bytes_ = 0;
  /// Wakes the writer when an item is queued or the connection ends (cancelled, never expires).
  net::steady_timer writer_wake_;
  /// The pacer's timer: the next push, or the close deadline.
  net::steady_timer pace_timer_;
  /// True once a close frame is queued: no more messages are queued or pushed.
  bool closing_ = false;
  /// True once the reader has ended: the connection is over for everyone.
  bool finished_ = false;
  /// How the reader's last read failed: websocket::error::closed after a close handshake.
  beast::error_code read_error_;
  /// The close the stub started (close command or full queue), for the log.
  std::optional<websocket::close_reason> stub_close_;
  /// How the stub's async_close ended, once it has.
  std::optional<beast::error_code> stub_close_result_;
  /// Data messages received.
  std::uint64_t messages_in_ = 0;
  /// Data messages sent (echoes and stats).
  std::uint64_t messages_out_ = 0;
};

}  // namespace sluice::stub
