#pragma once
// A proxied WebSocket: the handshake with the upstream, then the client's, then messages relayed
// both ways until either side closes. sluice terminates the protocol on both sides (two Beast
// websocket streams), so it can count client messages, cap their size, and close with a code of
// its own (1008, 1009, 1001); data moves one buffer at a time per direction, so a slow reader
// holds at most max_queued_bytes of the other side's data in the proxy.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/io_types.hpp"
#include "config/config.hpp"
#include "limiter/limit_key.hpp"
#include "limiter/limiter.hpp"

namespace sluice::net {

/// Header fields as name/value pairs (a copy: the relay outlives the request's arena).
using field_list = std::vector<std::pair<std::string, std::string>>;

/// What the upstream answered to the upgrade.
struct upstream_upgrade {
  bool upgraded = false;   ///< 101: the relay may start
  bool timed_out = false;  ///< no answer within the deadline
  bool failed = false;     ///< connection failed before any answer
  unsigned status = 0;     ///< the upstream's status when it refused (not 101)
  std::string body;        ///< its body then
  field_list fields;       ///< its fields (101 or refusal), hop-by-hop ones removed
};

/// The client-message rate limit of a route, when it has one.
struct message_limit {
  limiter::limiter* lim = nullptr;       ///< null: no limit
  const config::route* route = nullptr;  ///< a route holding just the message limit
  limiter::limit_key key;
  config::message_limit_action action = config::message_limit_action::close;
};

/// One WebSocket through the proxy. Lives in the request's coroutine frame.
class websocket_relay {
 public:
  /// Over `upstream`, a connected socket; `handshake_timeout` bounds each handshake (and each
  /// closing handshake).
  websocket_relay(socket_t upstream, const config::websocket_settings& settings,
                  message_limit limit, config::duration handshake_timeout);
  ~websocket_relay();
  websocket_relay(const websocket_relay&) = delete;
  websocket_relay& operator=(const websocket_relay&) = delete;

  /// Sends the upgrade for `target` to the upstream with `fields` (end-to-end fields of the
  /// client's request plus forwarding ones), and reads its answer.
  task<upstream_upgrade> open_upstream(std::string host, std::string target,
                                                         field_list fields);
  /// Takes the client's connection and completes its handshake (its request: `target` and
  /// `fields`), answering 101 with `response_fields`. False when the client is gone.
  task<bool> accept_client(socket_t client,
                                             std::string target, field_list fields,
                                             field_list response_fields);
  /// Relays until both sides are closed. Returns how it ended, for the log.
  task<std::string> run();

  /// Proxy shutting down: close both sides with 1001 (going away).
  void going_away();
  /// Drain deadline passed: drop both connections now.
  void abort();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::net
