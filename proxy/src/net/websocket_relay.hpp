#pragma once
// A proxied WebSocket: the handshake with the upstream, then the client's, then frames relayed
// both ways until both sides have closed. sluice terminates the protocol on both sides (it reads
// and writes frames itself), so it can count client messages, cap their size (after
// decompression), check what RFC 6455 asks of every frame, compress for each side on its own,
// and close with a code of its own; pings, pongs and closes go end to end.
//
// Closing (RFC 6455 7): a close from one side goes on to the other, and the other's answer comes
// back as it was sent. A close sluice starts (1008, 1009, 1002, 1007, 1001) goes to both sides;
// after sending one, sluice keeps reading that side, discarding, until its close and then its
// FIN come, so the close frame is never lost to a reset. Every close has close_grace to finish.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "net/field_list.hpp"
#include "net/io_types.hpp"
#include "net/websocket_handshake.hpp"
#include "net/websocket_message_limit.hpp"

namespace sluice::net {

/// One WebSocket through the proxy. Lives in the request's coroutine frame.
class websocket_relay {
 public:
  /// Over `upstream`, a connected socket; `handshake_timeout` bounds each opening handshake;
  /// an upstream answer's head may have `max_header_bytes`.
  websocket_relay(socket_t upstream, const config::websocket_settings& settings,
                  message_limit limit, config::duration handshake_timeout,
                  std::size_t max_header_bytes);
  ~websocket_relay();
  websocket_relay(const websocket_relay&) = delete;
  websocket_relay& operator=(const websocket_relay&) = delete;

  /// Sends the upgrade for `target` to the upstream with `fields` (end-to-end fields of the
  /// client's request plus forwarding ones), and reads its answer.
  task<upstream_upgrade> open_upstream(std::string_view host, std::string_view target,
                                       const field_list& fields);
  /// Takes the client's connection and answers its handshake (`key`, its offered
  /// `extensions`) with 101 and `response_fields`; `early` holds bytes the client sent after
  /// its request. False when the client is gone.
  task<bool> accept_client(socket_t client, std::string_view key, std::string_view extensions,
                           const field_list& response_fields, std::string_view early);
  /// Relays until both sides are closed. Returns how it ended, for the log.
  task<std::string> run();

  /// Proxy shutting down: close both sides with 1001 (going away).
  void going_away();
  /// Drain deadline passed: drop both connections now.
  void abort();
  /// `f` runs once when the client's side is done (its closing handshake complete, just before
  /// sluice's FIN, or its connection gone), which may be before the upstream's side is.
  void when_client_done(std::function<void()> f);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::net
