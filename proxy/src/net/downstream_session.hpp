#pragma once
// One client connection, from accept to close: read a request's headers, decide, then forward
// to the upstream (streaming both bodies) or answer from here. Requests on a connection are
// handled one after another, so pipelined requests are answered in order.

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/container/small_vector.hpp>

#include "net/io_types.hpp"
#include "common/ip_address.hpp"
#include "net/deadline.hpp"
#include "net/shared_state.hpp"
#include "http1/header_arena.hpp"
#include "routing/admission.hpp"

namespace sluice::net {

class worker;
class request_exchange;
class websocket_relay;

/// A client connection and the loop that serves it.
class downstream_session : public std::enable_shared_from_this<downstream_session> {
 public:
  /// Takes an accepted socket from `peer`; `slot` (taken by the listener) is given back when
  /// the session ends.
  downstream_session(socket_t socket, worker& owner, ip_address peer, connection_slot slot);
  ~downstream_session();

  /// Serves requests until the client leaves, a deadline passes, or the worker stops.
  task<void> run();
  /// Worker stopping: close now if waiting for a request, else after the current response.
  void shutdown();
  /// Drain deadline passed: close now, whatever is in progress.
  void abort();
  /// True while a request whose head was read is being handled (for the drain's count).
  bool in_request() const { return in_request_; }
  /// True while the connection is a WebSocket relay.
  bool relaying() const { return relay_ != nullptr; }
  /// True when the connection came from the reserve: it may carry one exempt request only.
  bool reserve_only() const { return slot_.reserve_only(); }

 private:
  friend class request_exchange;
  friend class upstream_exchange;
  friend class websocket_upgrade;

  task<void> linger_close();

  socket_t socket_;
  deadline dl_;
  boost::beast::flat_buffer buffer_;
  worker& owner_;
  ip_address peer_;
  std::string peer_text_;
  std::unique_ptr<char[]> body_buffer_;  // streaming buffer for both bodies, made on first use
  std::string head_buffer_;              // heads are built here; its capacity is reused
  std::string request_id_;               // the current request's id; its capacity is reused
  // The decision's input fields and its answer; their capacity is reused from request to request.
  boost::container::small_vector<routing::field_view, 24> fields_;
  routing::admission admission_;
  http1::header_arena arena_;            // both parsers' fields; reset per request
  socket_t* upstream_socket_ = nullptr;  // the upstream connection in use
  websocket_relay* relay_ = nullptr;  // the WebSocket this connection became, while it runs
  connection_slot slot_;  // the listener's count of this connection; given back at the end
  bool idle_ = false;  // waiting for the next request: safe to close at shutdown
  bool in_request_ = false;  // a request exchange is running
};

}  // namespace sluice::net
