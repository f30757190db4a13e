#include "net/http_io.hpp"
#include "net/drained_buffer.hpp"

#include <array>
#include <charconv>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

namespace sluice::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using error_code = boost::system::error_code;

namespace {

constexpr auto nothrow = asio::as_tuple(use_task);
constexpr std::size_t read_size = 16 * 1024;
// Longest chunk-size line or trailer section accepted (they carry no body bytes).
constexpr std::size_t max_framing_bytes = 16 * 1024;

// The peer closed or the deadline did: say which, in Beast's terms.
error_code read_failure(error_code ec, deadline& dl, bool got_bytes) {
  if (dl.expired()) return beast::error::timeout;
  if (ec == asio::error::eof) return got_bytes ? http::error::partial_message : http::error::end_of_stream;
  return ec;
}

// Where each parser takes its body pieces.
http::buffer_body::value_type& body_of(body_parser<true>& p) { return p.get().body(); }
http1::body_window& body_of(http1::response_parser& p) { return p.body(); }

}  // namespace

template <class Parser>
task<error_code> read_header(socket_t& socket, beast::flat_buffer& buffer,
                                        Parser& parser, deadline& dl,
                                        std::chrono::steady_clock::duration timeout, bool arm) {
  // One deadline for the whole head, set once: a client that trickles a byte at a time must not
  // extend it (slowloris), nor an upstream that does the same.
  if (arm) dl.expires_after(timeout);
  for (;;) {
    if (buffer.size() > 0) {
      error_code ec;
      const auto n = parser.put(buffer.data(), ec);
      buffer.consume(n);
      if (ec == http::error::need_more) ec = {};
      if (ec) co_return ec;
      if (parser.is_header_done()) co_return error_code{};
    }
    auto [ec, n] =
        co_await socket.async_read_some(drained_buffer(buffer.prepare(read_size)), nothrow);
    if (ec) co_return read_failure(ec, dl, buffer.size() > 0 || parser.got_some());
    buffer.commit(n);
  }
}

template <class Parser>
task<std::pair<error_code, std::size_t>> read_body_piece(
    socket_t& socket, beast::flat_buffer& buffer, Parser& parser, char* buf,
    std::size_t cap, deadline& dl, std::chrono::steady_clock::duration timeout) {
  auto& body = body_of(parser);
  body.data = buf;
  body.size = cap;
  for (;;) {
    if (parser.is_done()) co_return std::pair{error_code{}, cap - body.size};
    if (buffer.size() > 0) {
      error_code ec;
      const auto n = parser.put(buffer.data(), ec);
      buffer.consume(n);
      if (ec == http::error::need_buffer || ec == http::error::need_more) ec = {};
      if (ec) co_return std::pair{ec, std::size_t{0}};
      const std::size_t got = cap - body.size;
      if (got > 0 || parser.is_done()) co_return std::pair{error_code{}, got};
      if (n > 0) continue;  // a chunk header or the like was consumed; the buffer may hold more
      // Beast bounds neither a chunk-size line (extensions) nor the trailer section: without
      // this a peer could grow the buffer for ever without sending a byte of body.
      if (buffer.size() >= max_framing_bytes) co_return std::pair{error_code{http::error::bad_chunk}, std::size_t{0}};
    }
    dl.expires_after(timeout);
    error_code ec = asio::error::would_block;
    std::size_t n = 0;
    if (parser.need_eof()) {
      // A body ended by the close. The close may be a reset queued right behind the last bytes,
      // which raises no event of its own once a read has drained the socket
      // (drained_buffer.hpp): so look before waiting, as Asio's own first attempt would.
      error_code mode;
      if (!socket.non_blocking()) socket.non_blocking(true, mode);
      if (!mode) n = socket.read_some(buffer.prepare(read_size), ec);
    }
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      std::tie(ec, n) =
          co_await socket.async_read_some(drained_buffer(buffer.prepare(read_size)), nothrow);
    }
    if (ec == asio::error::eof && !dl.expired()) {
      // A body delimited by the close ends here; any other body is cut short.
      error_code eof_ec;
      parser.put_eof(eof_ec);
      co_return std::pair{eof_ec, cap - body.size};
    }
    if (ec) co_return std::pair{read_failure(ec, dl, true), std::size_t{0}};
    buffer.commit(n);
  }
}

template task<error_code> read_header(socket_t&, beast::flat_buffer&,
                                                 body_parser<true>&, deadline&,
                                                 std::chrono::steady_clock::duration, bool);
template task<error_code> read_header(socket_t&, beast::flat_buffer&,
                                                 http1::response_parser&, deadline&,
                                                 std::chrono::steady_clock::duration, bool);
template task<std::pair<error_code, std::size_t>> read_body_piece(
    socket_t&, beast::flat_buffer&, body_parser<true>&, char*, std::size_t, deadline&,
    std::chrono::steady_clock::duration);
template task<std::pair<error_code, std::size_t>> read_body_piece(
    socket_t&, beast::flat_buffer&, http1::response_parser&, char*, std::size_t,
    deadline&, std::chrono::steady_clock::duration);

namespace {

// Writes what the socket takes now, without suspending: a response head and a body piece
// nearly always fit the send buffer, and then there is nothing to wait for (NGINX writes the
// same way). Going through the reactor instead costs a suspension, a trip through the scheduler
// and a resumption every time. True when everything went, or on a hard error (in `ec`); else
// `rest` holds what is left. User-level non-blocking mode changes only synchronous calls.
bool write_now(socket_t& socket, std::span<const asio::const_buffer> bufs,
               std::array<asio::const_buffer, 8>& rest, error_code& ec) {
  if (!socket.non_blocking()) socket.non_blocking(true, ec);
  std::size_t written = 0;
  if (!ec) {
    std::size_t total = 0;
    for (const auto& b : bufs) total += b.size();
    written = socket.write_some(bufs, ec);
    if (!ec && written == total) return true;
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return true;
  }
  ec = {};
  std::size_t count = 0;
  for (const auto& b : bufs) {
    if (written >= b.size()) {
      written -= b.size();
      continue;
    }
    if (count == rest.size()) {
      ec = asio::error::invalid_argument;
      return true;
    }
    rest[count++] = asio::buffer(static_cast<const char*>(b.data()) + written, b.size() - written);
    written = 0;
  }
  return false;
}

// The rest, under the deadline (unused slots are empty buffers, which the write skips).
task<error_code> write_rest(socket_t& socket, deadline& dl,
                                       std::chrono::steady_clock::duration timeout,
                                       const std::array<asio::const_buffer, 8>& rest) {
  dl.expires_after(timeout);
  auto [ec, n] = co_await asio::async_write(socket, rest, nothrow);
  if (ec && dl.expired()) co_return beast::error::timeout;
  co_return ec;
}

}  // namespace

task<error_code> write_all(socket_t& socket, deadline& dl,
                                      std::chrono::steady_clock::duration timeout,
                                      std::span<const asio::const_buffer> bufs) {
  std::array<asio::const_buffer, 8> rest;
  error_code ec;
  if (write_now(socket, bufs, rest, ec)) co_return ec;
  co_return co_await write_rest(socket, dl, timeout, rest);
}


task<error_code> write_piece(socket_t& socket, deadline& dl,
                                        std::chrono::steady_clock::duration timeout,
                                        std::string_view head, body_framing framing,
                                        const char* data, std::size_t size, bool last,
                                        bool* refused) {
  static constexpr std::string_view crlf = "\r\n";
  static constexpr std::string_view last_chunk = "0\r\n\r\n";
  char chunk_size[24];
  std::size_t chunk_len = 0;
  std::array<asio::const_buffer, 5> bufs;
  std::size_t count = 0;
  if (!head.empty()) bufs[count++] = asio::buffer(head);
  if (framing == body_framing::chunked && size > 0) {
    const auto [end, ec] = std::to_chars(chunk_size, chunk_size + 20, size, 16);
    chunk_len = static_cast<std::size_t>(end - chunk_size);
    chunk_size[chunk_len++] = '\r';
    chunk_size[chunk_len++] = '\n';
    bufs[count++] = asio::buffer(chunk_size, chunk_len);
    bufs[count++] = asio::buffer(data, size);
    bufs[count++] = asio::buffer(crlf);
  } else if (framing != body_framing::none && size > 0) {
    bufs[count++] = asio::buffer(data, size);
  }
  if (framing == body_framing::chunked && last) bufs[count++] = asio::buffer(last_chunk);
  if (count == 0) co_return error_code{};
  // Not through write_all: one coroutine frame fewer per write, on every request.
  std::array<asio::const_buffer, 8> rest;
  error_code ec;
  if (write_now(socket, std::span<const asio::const_buffer>(bufs.data(), count), rest, ec)) {
    // write_now fails only on its first attempt, before a byte went.
    if (ec && refused != nullptr) *refused = true;
    co_return ec;
  }
  co_return co_await write_rest(socket, dl, timeout, rest);
}

}  // namespace sluice::net
