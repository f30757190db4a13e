// Every deadline and cap of the stub, in one place.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace sluice::stub {

/// Time a client has to send a complete request header once a connection or request starts.
inline constexpr std::chrono::seconds header_timeout{30};
/// Time a kept-alive connection may sit between requests before the stub closes it.
inline constexpr std::chrono::seconds idle_timeout{60};
/// Longest wait for progress on one body read or one response write; a stalled peer is dropped.
inline constexpr std::chrono::seconds io_timeout{30};
/// Largest request header (request line and fields); bigger gets 431.
inline constexpr std::uint32_t max_header_bytes = 32 * 1024;
/// Largest request body the stub holds in memory; bigger gets 413. /api/echo streams and is exempt.
inline constexpr std::uint64_t max_body_bytes = 64ull * 1024 * 1024;
/// Bytes asked of the socket per read while waiting for a request or relaying a body.
inline constexpr std::size_t read_chunk_bytes = 64 * 1024;
/// Jobs remembered for GET /api/jobs/{id}; the oldest are forgotten past this.
inline constexpr std::size_t max_stored_jobs = 10'000;
/// Longest job a client may ask for; longer requests are clamped.
inline constexpr std::chrono::milliseconds max_job_duration{60'000};
/// Job duration when the request names none.
inline constexpr std::chrono::milliseconds default_job_duration{500};
/// Longest /api/delay; longer requests are clamped.
inline constexpr std::chrono::milliseconds max_delay{120'000};
/// Largest /api/stream response.
inline constexpr std::uint64_t max_stream_bytes = 1ull << 30;
/// Largest /api/stream chunk; bounds the pattern buffer.
inline constexpr std::uint64_t max_stream_chunk_bytes = 1ull << 20;
/// /api/stream chunk size when the query names none.
inline constexpr std::uint64_t default_stream_chunk_bytes = 16 * 1024;
/// Largest WebSocket message the stub reads (and so echoes); bigger is closed with 1009 by Beast.
inline constexpr std::size_t max_ws_message_bytes = 16 * 1024 * 1024;
/// Bytes of WebSocket messages that may wait behind the one being written. A client that sends
/// but does not read would otherwise grow the queue without end; past this it is closed with 1008.
/// One message of any size is always accepted when nothing waits, so a 16 MiB echo still fits.
inline constexpr std::size_t max_ws_queue_bytes = 4 * 1024 * 1024;
/// Time for the WebSocket opening handshake answer and for a closing handshake to finish.
inline constexpr std::chrono::seconds ws_handshake_timeout{30};
/// A WebSocket that receives nothing for half of this gets a ping; nothing for all of it (not even
/// the pong, or a write stuck behind a client that does not read) and it is dropped.
inline constexpr std::chrono::seconds ws_idle_timeout{60};
/// Lifetime of a login token (the login answer's expires_in).
inline constexpr std::chrono::seconds token_lifetime{3600};
/// Login tokens remembered; the oldest are forgotten past this, so logins cannot grow memory.
inline constexpr std::size_t max_issued_tokens = 100'000;

}  // namespace sluice::stub
