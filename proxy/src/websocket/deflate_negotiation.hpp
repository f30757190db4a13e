#pragma once
// permessage-deflate negotiation (RFC 7692 7.1), once per side: sluice accepts a client's
// offer as the server, and makes its own offer to the upstream as the client. The two are
// independent; a message is decompressed from one side and compressed again for the other.
//
// Context takeover is always off both ways (sluice asks for server_no_context_takeover and
// client_no_context_takeover, which every conforming peer supports): each message is then
// compressed on its own, so no compression state outlives a message and an idle WebSocket
// holds none.

#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace sluice::websocket {

/// What was agreed on one side.
struct deflate_params {
  int inflate_window_bits = 15;  ///< the peer compresses with a window of at most 2^this
  int deflate_window_bits = 15;  ///< sluice compresses with this window; 0: it sends uncompressed
};

/// The server side: the first permessage-deflate offer in the client's Sec-WebSocket-Extensions
/// (`offers`: every such field, joined by commas) that sluice can honour under `limits`, with
/// `response` set to the field value answering it. nullopt: no offer fits (or compression is
/// off), and the 101 carries no Sec-WebSocket-Extensions.
std::optional<deflate_params> accept_offer(std::string_view offers,
                                           const config::websocket_compression& limits,
                                           std::string& response);

/// The client side: the Sec-WebSocket-Extensions value sluice offers the upstream.
std::string make_offer(const config::websocket_compression& limits);

/// The upstream's Sec-WebSocket-Extensions answer to make_offer's offer (`answer` empty: it
/// declined). Sets `error` when the answer is one RFC 7692 tells a client to fail the
/// connection over (an extension not offered, a parameter not allowed or out of range).
std::optional<deflate_params> read_answer(std::string_view answer,
                                          const config::websocket_compression& limits,
                                          std::string& error);

}  // namespace sluice::websocket
