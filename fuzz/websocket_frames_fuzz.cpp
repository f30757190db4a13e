// Fuzz target: what the WebSocket relay does with a client's bytes after the upgrade.
//
// The relay (net/websocket_relay.cpp) terminates the protocol on both sides with Beast's
// websocket::stream: Beast's frame parser is what sees the client's frames. What is ours is how
// the relay sets the stream up (read_message_max, auto_fragment off, the handshake timeout),
// its pump (async_read_some into a max_queued_bytes buffer, message boundaries from
// is_message_done, the binary flag carried over, each piece written on with async_write_some
// and its fin), the ping it passes on (one at a time) and the close it passes on (the client's
// own reason, 1001 when the client vanished, 1001 after Beast closed a too-big message with
// 1009). The relay's streams are bound to TCP sockets, so this target runs the same steps on
// Beast's test stream: the client's stream (server role, accepting the upgrade request the way
// accept_client does) reads the fuzz input, in reads of a size drawn from the input; what the
// pump writes goes through the upstream stream (client role) to a peer that reads it back.
//
// Checked: the peer gets exactly the messages the relay read, in order, each with its binary
// flag, none longer than max_message_size; a text message reaches it as valid UTF-8 (the peer's
// Beast would refuse it otherwise); the close the relay passes on reaches the peer with the
// code and reason the relay sent; and nothing leaks or touches freed memory (ASan).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using ws_stream = websocket::stream<beast::test::stream>;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// Small enough that the fuzzer reaches both caps: a message over max_message_size, and a
// message read in several buffers of max_queued_bytes.
constexpr std::size_t max_message_bytes = 1024;
constexpr std::size_t max_queued_bytes = 64;
constexpr auto handshake_timeout = std::chrono::seconds(5);

struct message {
  bool binary = false;
  std::string data;
  bool operator==(const message&) const = default;
};

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "invariant broken: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// As websocket_relay::impl::configure.
void configure(ws_stream& ws) {
  ws.read_message_max(max_message_bytes);
  ws.auto_fragment(false);
  ws.set_option(websocket::stream_base::timeout{
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(handshake_timeout),
      websocket::stream_base::none(), false});
}

struct relay_run {
  ws_stream& client;
  ws_stream& upstream;
  std::vector<message> relayed;  // complete messages as written on
  bool ping_pending = false;
  bool closing = false;
  std::vector<std::string> pings;

  // As websocket_relay::impl::pump(true), without the message limit (the limiter's, tested
  // on its own).
  asio::awaitable<boost::system::error_code> pump() {
    std::vector<char> buf(max_queued_bytes);
    bool in_message = false;
    message current;
    for (;;) {
      auto [ec, n] = co_await client.async_read_some(asio::buffer(buf), nothrow);
      if (ec) co_return ec;
      if (!in_message) {
        in_message = true;
        current = {client.got_binary(), {}};
        upstream.binary(client.got_binary());
      }
      const bool fin = client.is_message_done();
      current.data.append(buf.data(), n);
      if (current.data.size() > max_message_bytes) fail("a message over max_message_size relayed");
      auto [wec, wn] = co_await upstream.async_write_some(fin, asio::buffer(buf.data(), n), nothrow);
      if (wec) fail("the upstream write failed", wec.message());
      if (wn != n) fail("a short write on");
      if (fin) {
        relayed.push_back(std::move(current));
        in_message = false;
      }
    }
  }
};

asio::awaitable<void> scenario(std::string_view input, std::size_t read_size) {
  auto ex = co_await asio::this_coro::executor;
  // The client's connection: the fuzz input is what it sent; what Beast answers goes to a peer
  // nobody reads.
  beast::test::stream client_sock(ex), client_remote(ex);
  client_sock.connect(client_remote);
  client_sock.append(input);
  client_sock.read_size(read_size);
  client_sock.close_remote();  // after the input: the client's half-close
  ws_stream client(std::move(client_sock));

  beast::test::stream upstream_sock(ex), peer_sock(ex);
  upstream_sock.connect(peer_sock);
  ws_stream upstream(std::move(upstream_sock));
  ws_stream peer(std::move(peer_sock));
  configure(upstream);

  // The upstream's handshake (open_upstream), answered by the peer.
  bool accepted = false;
  asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
    auto [ec] = co_await peer.async_accept(nothrow);
    accepted = !ec;
  }, asio::detached);
  if (auto [ec] = co_await upstream.async_handshake("upstream", "/ws", nothrow); ec)
    fail("upstream handshake", ec.message());

  // The client's handshake, from the request the session parsed (accept_client).
  http::request<http::empty_body> req{http::verb::get, "/ws", 11};
  req.set(http::field::host, "sluice");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::connection, "upgrade");
  req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  req.set(http::field::sec_websocket_version, "13");
  configure(client);
  if (auto [ec] = co_await client.async_accept(req, nothrow); ec) fail("client handshake", ec.message());
  if (!accepted) fail("the peer did not accept");

  relay_run relay{client, upstream, {}, false, false, {}};
  // As run(): a client ping goes on to the upstream, one at a time.
  client.control_callback([&](websocket::frame_type kind, beast::string_view payload) {
    if (kind != websocket::frame_type::ping) return;
    if (payload.size() > websocket::ping_data::static_capacity) fail("a ping payload over 125 bytes");
    if (relay.ping_pending || relay.closing) return;
    relay.ping_pending = true;
    websocket::ping_data data(payload.substr(0, websocket::ping_data::static_capacity));
    relay.pings.emplace_back(payload);
    asio::co_spawn(ex, [&upstream, &relay, data]() -> asio::awaitable<void> {
      co_await upstream.async_ping(data, nothrow);
      relay.ping_pending = false;
    }, asio::detached);
  });

  const boost::system::error_code ended = co_await relay.pump();
  relay.closing = true;
  // As ended(true, ec): the close the upstream is sent.
  websocket::close_reason sent;
  if (ended == websocket::error::closed) {
    sent = client.reason();
  } else if (ended == websocket::error::message_too_big) {
    sent = websocket::close_reason(websocket::close_code::going_away, "peer sent a message too big");
  } else {
    sent = websocket::close_reason(websocket::close_code::going_away, "client went away");
  }
  client.control_callback();

  // The peer reads everything the relay wrote: the messages, then the close.
  std::vector<message> got;
  std::vector<std::string> peer_pings;
  peer.control_callback([&](websocket::frame_type kind, beast::string_view payload) {
    if (kind == websocket::frame_type::ping) peer_pings.emplace_back(payload);
  });
  asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
    auto [ec] = co_await upstream.async_close(sent, nothrow);
    (void)ec;
  }, asio::detached);
  boost::system::error_code peer_ec;
  for (;;) {
    beast::flat_buffer b;
    auto [ec, n] = co_await peer.async_read(b, nothrow);
    if (ec) {
      peer_ec = ec;
      break;
    }
    got.push_back({peer.got_binary(), beast::buffers_to_string(b.data())});
  }
  if (peer_ec != websocket::error::closed) fail("the peer's read ended without the close", peer_ec.message());
  if (got != relay.relayed) fail("the peer got other messages than the relay read");
  const auto& r = peer.reason();
  if (r.code != sent.code || r.reason != sent.reason) fail("the close reached the peer changed");
  // Pings passed on arrive in order (a ping still being written at the close may be lost).
  if (peer_pings.size() > relay.pings.size()) fail("the peer got pings nobody sent");
  for (std::size_t i = 0; i < peer_pings.size(); ++i)
    if (peer_pings[i] != relay.pings[i]) fail("a ping passed on changed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // How much each read of the client's socket returns: from the input's length and first byte,
  // so the fuzzer varies it; frames then arrive cut at every place.
  const std::size_t read_size = size == 0 ? 1 : 1 + (static_cast<unsigned char>(input[0]) + size) % 97;
  asio::io_context ioc;
  bool finished = false;
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
    co_await scenario(input, read_size);
    finished = true;
  }, asio::detached);
  ioc.run();
  if (!finished) fail("the relay never finished");
  return 0;
}
