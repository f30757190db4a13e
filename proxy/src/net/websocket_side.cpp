#include "net/websocket_side.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/write.hpp>

#include "websocket/handshake_key.hpp"

namespace sluice::net {
namespace asio = boost::asio;
namespace ws = sluice::websocket;

namespace {
constexpr auto nothrow = asio::as_tuple(use_task);
}  // namespace

task<bool> websocket_side::send(ws::frame_header h, std::span<std::uint8_t> payload) {
  co_return co_await write_frame(h, payload, false);
}

task<bool> websocket_side::write_frame(ws::frame_header h, std::span<std::uint8_t> payload,
                                       bool is_close) {
  while (writing && !gone) {
    link.gate.expires_at(clock::time_point::max());
    ++link.gate_waiters;
    co_await link.gate.async_wait(nothrow);
    --link.gate_waiters;
  }
  if (gone || (close_sent && !is_close)) co_return false;
  h.masked = !client;
  if (h.masked) {
    h.mask = ws::make_mask_key();
    ws::apply_mask(payload, h.mask, 0);
  }
  std::array<std::uint8_t, ws::max_header_bytes> head{};
  const std::size_t head_size = ws::write_header(h, head);
  const std::array<asio::const_buffer, 2> bufs{asio::buffer(head.data(), head_size),
                                               asio::buffer(payload.data(), payload.size())};
  writing = true;
  write_started = clock::now();
  auto [ec, n] = co_await asio::async_write(socket, bufs, nothrow);
  writing = false;
  write_started = clock::time_point::max();
  link.open_gate();
  if (ec) {
    if (!gone) link.note(std::string("write to the ") + name() + " failed: " + ec.message());
    abort();
    co_return false;
  }
  co_return true;
}

void websocket_side::send_close(const close_frame& frame) {
  if (close_sent || gone) return;
  close_sent = true;
  link.start_closing();
  link.spawn(write_close(frame));
}

task<void> websocket_side::write_close(close_frame frame) {
  ws::frame_header h;
  h.op = ws::opcode::close;
  h.length = frame.size;
  close_written = co_await write_frame(h, std::span<std::uint8_t>(frame.bytes.data(), frame.size), true);
  if (close_written && close_got) finish_handshake();
}

void websocket_side::close_received() {
  close_got = true;
  link.start_closing();
  // A close of ours still on its way ends the handshake itself once written.
  if (close_written && !gone) finish_handshake();
}

void websocket_side::finish_handshake() {
  done();
  if (!client && !failed) return;
  boost::system::error_code ignored;
  socket.shutdown(asio::socket_base::shutdown_send, ignored);
}

void websocket_side::done() {
  if (!on_done) return;
  auto f = std::move(on_done);
  on_done = nullptr;
  f();
}

void websocket_side::mark_gone() {
  gone = true;
  done();
}

void websocket_side::abort() {
  mark_gone();
  boost::system::error_code ignored;
  socket.close(ignored);
  link.open_gate();
}

}  // namespace sluice::net
