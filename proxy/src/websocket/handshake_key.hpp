#pragma once
// The keys of the opening handshake (RFC 6455 4.1, 4.2.2) and the masking keys of frames sent
// to the upstream (5.3), all from Beast's per-thread ChaCha generator seeded from the system.

#include <string>
#include <string_view>

#include "websocket/frame_header.hpp"

namespace sluice::websocket {

/// A fresh Sec-WebSocket-Key: 16 random bytes in base64.
std::string make_key();
/// The Sec-WebSocket-Accept that answers `key`.
std::string accept_for(std::string_view key);
/// True when `key` is base64 of 16 bytes (24 characters ending in "=="), as RFC 6455 4.1 asks.
bool is_valid_key(std::string_view key);
/// A masking key for one frame.
mask_key make_mask_key();

}  // namespace sluice::websocket
