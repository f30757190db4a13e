#pragma once
// HTTP/1.1 message I/O on a plain socket: Beast's parsers fed directly from the connection's
// buffer (no composed operation when the bytes are already there, as they usually are for a
// body behind its headers), bodies framed by hand and written with one gather write per piece
// (the heads are built by request_exchange). Beast's own read/write algorithms cost several times more per request.

#include <cstddef>
#include <span>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>

#include "net/io_types.hpp"
#include "net/deadline.hpp"
#include "http1/header_arena.hpp"
#include "http1/response_parser.hpp"

namespace sluice::net {

/// Header fields whose memory comes from the connection's header_arena.
using arena_fields = boost::beast::http::basic_fields<http1::arena_allocator<char>>;

/// Parser of a request or response whose body is taken piece by piece into a caller's buffer.
/// Construct with make_parser_args(arena) so the fields allocate from the arena.
template <bool IsRequest>
using body_parser =
    boost::beast::http::parser<IsRequest, boost::beast::http::buffer_body, http1::arena_allocator<char>>;

/// Reads until `parser` has the whole header. Errors: Beast's (header_limit, body_limit from a
/// declared Content-Length, bad_*), end_of_stream when the peer closed before a byte,
/// partial_message when it closed mid-header, beast::error::timeout when the deadline closed it.
/// `Parser`: body_parser<true> (requests) or http1::response_parser. With `arm` false the
/// deadline is the caller's, already set for the whole head (`timeout` is then unused).
template <class Parser>
task<boost::system::error_code> read_header(
    socket_t& socket, boost::beast::flat_buffer& buffer, Parser& parser,
    deadline& dl, std::chrono::steady_clock::duration timeout, bool arm = true);

/// Reads the next piece of the body into buf[0, cap); returns the bytes placed (0 only when
/// the body is complete). Errors as read_header, plus body_limit.
template <class Parser>
task<std::pair<boost::system::error_code, std::size_t>> read_body_piece(
    socket_t& socket, boost::beast::flat_buffer& buffer, Parser& parser,
    char* buf, std::size_t cap, deadline& dl, std::chrono::steady_clock::duration timeout);

/// How a body goes on the wire.
enum class body_framing { none, raw, chunked };

/// Writes every byte of `bufs` (empty buffers are skipped). When the kernel takes it all at once
/// (the usual case) the coroutine does not suspend; only what is left waits for the socket,
/// under the deadline. beast::error::timeout when the deadline cut it.
task<boost::system::error_code> write_all(
    socket_t& socket, deadline& dl, std::chrono::steady_clock::duration timeout,
    std::span<const boost::asio::const_buffer> bufs);

/// Writes `head` (may be empty) and one body piece framed as `framing`; with `last` set and
/// chunked framing, also the terminating chunk. One gather write. When it fails, `*refused`
/// (if given) tells whether the socket took none of it: the peer cannot have seen any.
task<boost::system::error_code> write_piece(
    socket_t& socket, deadline& dl, std::chrono::steady_clock::duration timeout,
    std::string_view head, body_framing framing, const char* data, std::size_t size, bool last,
    bool* refused = nullptr);

}  // namespace sluice::net
