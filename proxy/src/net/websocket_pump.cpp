#include "net/websocket_pump.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <boost/asio/as_tuple.hpp>

#include "limiter/clock.hpp"
#include "websocket/close_code.hpp"

namespace sluice::net {
namespace asio = boost::asio;
namespace ws = sluice::websocket;
using ws::close_code;

namespace {
constexpr auto nothrow = asio::as_tuple(use_task);
// The read buffer's first size, and each output buffer's: big enough that a message of a few
// KiB (most are) goes in one read and one frame, small enough that a burst across many
// connections does not add up. Never over max_queued_bytes.
constexpr std::size_t chunk_bytes = 16 * 1024;

std::uint16_t code_of(close_code c) { return static_cast<std::uint16_t>(c); }
}  // namespace

websocket_pump::websocket_pump(websocket_side& from, websocket_side& to,
                               const config::websocket_settings& settings,
                               const message_limit* limit, std::string_view early)
    : from_(from), to_(to), link_(from.link), settings_(settings), limit_(limit),
      chunk_(std::min<std::size_t>(chunk_bytes, settings.max_queued_bytes)) {
  if (!early.empty()) {
    in_cap_ = std::max(chunk_, early.size());
    in_ = std::make_unique_for_overwrite<std::uint8_t[]>(in_cap_);
    std::memcpy(in_.get(), early.data(), early.size());
    in_end_ = early.size();
  }
}

void websocket_pump::ensure_input(bool grow) {
  if (!in_) {
    in_cap_ = chunk_;
    in_ = std::make_unique_for_overwrite<std::uint8_t[]>(in_cap_);
    in_begin_ = in_end_ = 0;
    return;
  }
  // What is left is the start of a frame: move it to the front.
  if (in_begin_ > 0) {
    std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  if (grow && in_cap_ < settings_.max_queued_bytes) {
    // The last read filled the buffer: the sender is ahead, take more per read (up to the cap).
    const std::size_t cap = std::min<std::size_t>(in_cap_ * 2, settings_.max_queued_bytes);
    auto bigger = std::make_unique_for_overwrite<std::uint8_t[]>(cap);
    std::memcpy(bigger.get(), in_.get(), in_end_);
    in_ = std::move(bigger);
    in_cap_ = cap;
  }
}

void websocket_pump::release_idle() {
  if (in_begin_ == in_end_) {
    in_.reset();
    in_cap_ = in_begin_ = in_end_ = 0;
  }
  if (!in_message_) {
    inflater_.end();
    deflater_.end();
    inflated_.reset();
    deflated_.reset();
  }
}

std::span<std::uint8_t> websocket_pump::output(std::unique_ptr<std::uint8_t[]>& buf) {
  if (!buf) buf = std::make_unique_for_overwrite<std::uint8_t[]>(chunk_);
  return {buf.get(), chunk_};
}

task<void> websocket_pump::run() {
  // Bytes that came with the handshake go first.
  if (in_end_ > in_begin_) {
    link_.touch();
    co_await process();
  }
  bool readable = false;
  for (;;) {
    if (!readable) {
      release_idle();
      // No buffer is held while waiting: an idle WebSocket costs its sockets and this frame.
      auto [ec] = co_await from_.socket.async_wait(asio::socket_base::wait_read, nothrow);
      if (ec) {
        ended(ec);
        break;
      }
    }
    ensure_input(readable);
    const std::size_t room = in_cap_ - in_end_;
    boost::system::error_code ec;
    const std::size_t n = from_.socket.read_some(asio::buffer(in_.get() + in_end_, room), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      readable = false;
      continue;
    }
    if (ec) {
      ended(ec);
      break;
    }
    // A read that did not fill the buffer drained the socket: wait for the next bytes rather
    // than try a read that would find none.
    readable = n == room;
    in_end_ += n;
    link_.touch();
    co_await process();
  }
}

task<void> websocket_pump::process() {
  while (in_end_ > in_begin_ || (in_frame_ && frame_left_ == 0)) {
    if (lost_) {
      in_begin_ = in_end_;
      co_return;
    }
    std::span<std::uint8_t> avail(in_.get() + in_begin_, in_end_ - in_begin_);
    if (!in_frame_) {
      const auto p = ws::parse_header(avail, from_.client, from_.deflate.has_value());
      if (p.status == ws::header_status::need_more) co_return;
      if (p.status == ws::header_status::protocol_error) {
        violation(close_code::protocol_error, p.error, close_code::going_away, true);
        continue;
      }
      frame_ = p.header;
      in_begin_ += p.size;
      in_frame_ = true;
      frame_left_ = frame_.length;
      frame_offset_ = 0;
      if (!ws::is_control(frame_.op) && !start_frame()) continue;
      continue;
    }
    if (ws::is_control(frame_.op)) {
      if (avail.size() < frame_left_) co_return;  // control frames are taken whole
      const auto payload = avail.first(static_cast<std::size_t>(frame_left_));
      if (frame_.masked) ws::apply_mask(payload, frame_.mask, 0);
      in_begin_ += payload.size();
      in_frame_ = false;
      co_await control(payload);
      continue;
    }
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(frame_left_, avail.size()));
    if (n == 0 && frame_left_ > 0) co_return;
    const auto piece = avail.first(n);
    if (frame_.masked) ws::apply_mask(piece, frame_.mask, frame_offset_);
    frame_left_ -= n;
    frame_offset_ += n;
    in_begin_ += n;
    const bool last = frame_.fin && frame_left_ == 0;
    if (frame_left_ == 0) in_frame_ = false;
    if (!dropping_ && can_relay()) co_await relay_piece(piece, last);
    if (last) in_message_ = false;
  }
}

bool websocket_pump::start_frame() {
  if (frame_.op == ws::opcode::continuation) {
    if (!in_message_) {
      violation(close_code::protocol_error, "continuation frame outside a message",
                close_code::going_away, true);
      return false;
    }
  } else {
    if (in_message_) {
      violation(close_code::protocol_error, "new message inside a fragmented one",
                close_code::going_away, true);
      return false;
    }
    start_message();
  }
  // An uncompressed message's size is known from its headers: refused before any of the
  // frame is relayed. A compressed one is counted as it inflates.
  if (!compressed_ && !dropping_ && can_relay()) {
    message_bytes_ += frame_.length;
    if (message_bytes_ > settings_.max_message_bytes) {
      violation(close_code::too_big, "message over max_message_size", close_code::too_big, false);
      return false;
    }
  }
  return true;
}

void websocket_pump::start_message() {
  in_message_ = true;
  compress_out_ = false;
  text_ = frame_.op == ws::opcode::text;
  compressed_ = frame_.rsv1;
  out_started_ = false;
  dropping_ = false;
  message_bytes_ = 0;
  utf8_.reset();
  if (limit_ != nullptr && limit_->lim != nullptr && can_relay()) {
    const std::array<limiter::limit_key, 1> keys{limit_->key};
    const auto d = limit_->lim->acquire(*limit_->route, keys, limiter::steady_clock_source::now());
    if (!d.allowed()) {
      if (limit_->action == config::message_limit_action::close) {
        link_.note("client over messages_per_ip: closed with 1008");
        violated_ = true;
        from_.send_close(make_close(code_of(close_code::policy), "message rate limit exceeded"));
        to_.send_close(make_close(code_of(close_code::going_away), "client closed by proxy"));
        return;
      }
      dropping_ = true;
    }
  }
  if (dropping_ || !can_relay()) return;
  if (compressed_ && !inflater_.begin(from_.deflate->inflate_window_bits)) {
    violation(close_code::internal_error, "no memory to decompress the message",
              close_code::going_away, false);
    return;
  }
  const auto& c = settings_.compression;
  compress_out_ = to_.deflate && to_.deflate->deflate_window_bits > 0 &&
                  deflater_.begin(to_.deflate->deflate_window_bits, c.mem_level, c.level);
}

task<void> websocket_pump::relay_piece(std::span<std::uint8_t> piece, bool last) {
  if (!compressed_) {
    if (text_ && (!utf8_.feed(piece) || (last && !utf8_.complete()))) {
      violation(close_code::bad_payload, "text message is not UTF-8", close_code::going_away, false);
      co_return;
    }
    co_await emit(piece, last);
    co_return;
  }
  const auto out = output(inflated_);
  std::span<const std::uint8_t> in = piece;
  for (;;) {
    const auto r = inflater_.inflate(in, out, last);
    if (r.error) {
      violation(close_code::bad_payload, "compressed data does not inflate", close_code::going_away, false);
      co_return;
    }
    in = in.subspan(r.consumed);
    message_bytes_ += r.produced;
    if (message_bytes_ > settings_.max_message_bytes) {
      violation(close_code::too_big, "message over max_message_size", close_code::too_big, false);
      co_return;
    }
    const auto produced = out.first(r.produced);
    if (text_ && (!utf8_.feed(produced) || (r.done && !utf8_.complete()))) {
      violation(close_code::bad_payload, "text message is not UTF-8", close_code::going_away, false);
      co_return;
    }
    if (r.produced > 0 || r.done) {
      co_await emit(produced, r.done);
      if (!can_relay()) co_return;
    }
    if (r.done) co_return;
    if (in.empty() && !last && r.produced < out.size()) co_return;  // the rest comes later
  }
}

task<void> websocket_pump::emit(std::span<std::uint8_t> data, bool fin) {
  if (!can_relay() || (data.empty() && !fin)) co_return;
  if (!compress_out_) {
    co_await send_data(data, fin, false);
    co_return;
  }
  const auto out = output(deflated_);
  std::span<const std::uint8_t> in = data;
  for (;;) {
    const auto r = deflater_.deflate(in, out, fin);
    if (r.error) {
      violation(close_code::going_away, "compression failed", close_code::internal_error, false);
      co_return;
    }
    in = in.subspan(r.consumed);
    const bool frame_fin = fin && !r.more;
    if (r.produced > 0 || frame_fin) {
      if (!co_await send_data(out.first(r.produced), frame_fin, true)) co_return;
    }
    if (!r.more) co_return;
  }
}

task<bool> websocket_pump::send_data(std::span<std::uint8_t> payload, bool fin, bool compressed) {
  ws::frame_header h;
  h.fin = fin;
  h.op = out_started_ ? ws::opcode::continuation : (text_ ? ws::opcode::text : ws::opcode::binary);
  h.rsv1 = compressed && !out_started_;
  h.length = payload.size();
  out_started_ = !fin;
  co_return co_await to_.send(h, payload);
}

task<void> websocket_pump::control(std::span<std::uint8_t> payload) {
  if (frame_.op != ws::opcode::close) {
    // Pings and pongs are end to end: the upstream's heartbeat is answered by the client, not
    // by the proxy on its behalf.
    if (can_relay()) {
      ws::frame_header h;
      h.op = frame_.op;
      h.length = payload.size();
      co_await to_.send(h, payload);
    }
    co_return;
  }
  if (from_.close_got) co_return;  // a second close: nothing more to do
  ws::close_payload cp;
  const auto problem = ws::read_close(payload, cp);
  if (problem != ws::close_problem::none) {
    const bool utf8 = problem == ws::close_problem::bad_payload;
    violation(utf8 ? close_code::bad_payload : close_code::protocol_error,
              utf8 ? "close reason is not UTF-8" : "invalid close code", close_code::going_away,
              true);
    from_.close_received();
    co_return;
  }
  from_.close_code = cp.code;
  link_.note(std::string(from_.name()) + " closed (" +
             (cp.code ? std::to_string(*cp.code) : std::string("no code")) + ")");
  const close_frame frame = copy_close(payload);
  if (from_.close_sent) {
    // The answer to a close that went to it: passed back when it was the other side's.
    if (to_.awaiting_reply) {
      to_.awaiting_reply = false;
      to_.send_close(frame);
    }
  } else if (!to_.close_sent && !to_.gone) {
    from_.awaiting_reply = true;
    to_.send_close(frame);
  } else {
    from_.send_close(frame);  // nobody to pass it to: the proxy answers, echoing it
  }
  from_.close_received();
}

void websocket_pump::violation(close_code code, std::string_view reason, close_code other_code,
                               bool framing_lost) {
  if (framing_lost && !lost_) {
    // The rest of what it sends cannot be read as frames, so no close of its own can be found:
    // the connection is failed (RFC 6455 7.1.7), our close and FIN go out, and what it still
    // sends is read and dropped until its FIN, as after a closing handshake.
    lost_ = true;
    from_.failed = true;
    from_.close_received();  // nothing more to wait for: our close, once out, ends it
  }
  if (violated_ || from_.close_sent) {
    // Closing already: nothing more to say.
    violated_ = true;
    return;
  }
  violated_ = true;
  link_.note(std::string(from_.name()) + " " + std::string(reason) + ": closed with " +
             std::to_string(code_of(code)));
  from_.send_close(make_close(code_of(code), reason));
  const std::string other = std::string(from_.name()) + " closed by proxy: " + std::string(reason);
  to_.send_close(make_close(code_of(other_code), other));
}

void websocket_pump::ended(const boost::system::error_code& ec) {
  const bool eof = ec == asio::error::eof;
  // A side that closed and then half-closed its TCP may still be waiting for the answer.
  if (!(eof && from_.close_got && !from_.close_written)) from_.mark_gone();
  link_.open_gate();
  link_.start_closing();
  if (from_.close_got) return;  // the usual end: its close came, then its FIN
  link_.note(std::string(from_.name()) + (eof ? " went away" : " ended: " + ec.message()));
  if (to_.awaiting_reply) {
    // `to` is waiting for an answer that cannot come now: the proxy gives it, with its own code.
    to_.awaiting_reply = false;
    to_.send_close(to_.close_code ? make_close(*to_.close_code, "") : close_frame{});
  } else {
    to_.send_close(make_close(code_of(close_code::going_away),
                              from_.client ? "client went away" : "upstream went away"));
  }
}

}  // namespace sluice::net
