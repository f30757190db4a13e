#pragma once
// The heads that cross the proxy: which fields go on, which sluice writes in their place. One
// table of hop-by-hop rules serves requests, responses and WebSocket handshakes alike, so the
// three can never disagree about what a peer may pass through.

#include <cstdint>
#include <optional>

#include <boost/optional/optional.hpp>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "http1/response_parser.hpp"
#include "net/head_writer.hpp"
#include "net/http_io.hpp"
#include "net/websocket_relay.hpp"
#include "routing/admission.hpp"

namespace sluice::net {

/// A client request as parsed: its line and fields.
using request_message = body_parser<true>::value_type;

/// What the upstream is told about a request besides its own fields.
struct forwarding_context {
  const routing::admission& adm;         ///< the decision: canonical target, trust, client
  const config::config& cfg;             ///< strip list and the upstream's address
  std::string_view peer_text;            ///< the socket peer, as text
  std::string_view client_text;          ///< the client the decision found, as text
  std::string_view request_id;
  /// Bit n set when client_ip.strip_headers has a name of n characters (proxy_snapshot's).
  std::uint64_t strip_header_lengths = 0;
};

/// The upstream's request head: the canonical method and target that were judged, never the
/// client's spelling; the client's end-to-end fields; X-Forwarded-For, X-Forwarded-Proto,
/// X-Real-IP and X-Request-Id written by sluice; framing stated by sluice.
void write_upstream_head(const request_message& req, const forwarding_context& ctx,
                         body_framing framing, boost::optional<std::uint64_t> content_length,
                         std::string& out);

/// The fields of the upstream's response that reach the client, written to `w` (status line and
/// sluice's own fields are the caller's).
void write_response_fields(const http1::response_parser& res, bool drop_transfer_encoding,
                           head_writer& w);

/// The upstream's WebSocket handshake fields (the handshake writes its own Host, key, version
/// and extensions); `host` gets the Host to send.
field_list websocket_request_fields(const request_message& req, const forwarding_context& ctx,
                                    std::string& host);

}  // namespace sluice::net
