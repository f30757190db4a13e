#include "websocket_session.hpp"

#include "event_log.hpp"
#include "json_response.hpp"
#include "stub_limits.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <utility>

namespace sluice::stub {

namespace {

/// Counts a WebSocket as open from the accepted handshake until release() or destruction, so the
/// count stays right even when the coroutine is destroyed at shutdown.
class open_websocket {
 public:
  explicit open_websocket(stub_counters& counters)
      : counters_(counters),
        open_after_(counters.websockets_open.fetch_add(1, std::memory_order_relaxed) + 1) {
    counters_.websockets_total.fetch_add(1, std::memory_order_relaxed);
  }
  ~open_websocket() { release(); }
  open_websocket(const open_websocket&) = delete;
  open_websocket& operator=(const open_websocket&) = delete;

  /// WebSockets open right after this one was counted.
  std::int64_t open_after() const { return open_after_; }
  /// Stops counting this one (once); returns how many are left open.
  std::int64_t release() {
    if (released_) {
      return counters_.websockets_open.load(std::memory_order_relaxed);
    }
    released_ = true;
    return counters_.websockets_open.fetch_sub(1, std::memory_order_relaxed) - 1;
  }

 private:
  stub_counters& counters_;
  std::int64_t open_after_;
  bool released_ = false;
};

/// A close command: the text message "close:CODE:REASON" (or "close:CODE").
struct close_command {
  std::uint16_t code = 0;
  std::string_view reason;
};

/// Close codes an endpoint may send (RFC 6455 7.4): the defined ones that are not reserved for
/// "no frame" cases, and the registered and private ranges 3000-4999.
bool is_sendable_close_code(unsigned code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1013) ||
         (code >= 3000 && code <= 4999);
}

/// The close command in a text message; nullopt when the text is not one (it is echoed then).
std::optional<close_command> parse_close_command(std::string_view text) {
  constexpr std::string_view prefix = "close:";
  // A close frame's payload is at most 125 bytes: two for the code, 123 for the reason.
  constexpr std::size_t max_reason_bytes = 123;
  if (!text.starts_with(prefix)) {
    return std::nullopt;
  }
  text.remove_prefix(prefix.size());
  const auto colon = text.find(':');
  const std::string_view code_text = text.substr(0, colon);
  const std::string_view reason =
      colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  unsigned code = 0;
  const auto [end, ec] =
      std::from_chars(code_text.data(), code_text.data() + code_text.size(), code);
  if (code_text.empty() || ec != std::errc{} || end != code_text.data() + code_text.size() ||
      !is_sendable_close_code(code) || reason.size() > max_reason_bytes) {
    return std::nullopt;
  }
  return close_command{static_cast<std::uint16_t>(code), reason};
}

/// `4000 "done"`, or `no code` for an empty close frame.
std::string describe(const websocket::close_reason& reason) {
  if (reason.code == websocket::close_code::none) {
    return "no code";
  }
  const std::string text(reason.reason.data(), reason.reason.size());
  return std::to_string(reason.code) + " \"" + text + "\"";
}

std::string peer_text(beast::tcp_stream& stream) {
  beast::error_code ec;
  const auto remote = stream.socket().remote_endpoint(ec);
  return ec ? std::string("-") : remote.address().to_string() + ":" + std::to_string(remote.port());
}

}  // namespace

net::awaitable<exchange_result> websocket_session::serve(http_exchange& exchange, std::string path,
                                                         stub_counters& counters,
                                                         const stats_sampler& sampler,
                                                         const websocket_settings& settings) {
  auto& stream = exchange.stream();
  const std::string peer = peer_text(stream);
  // From here the WebSocket keeps its own deadlines (handshake, idle with pings, closing), and
  // Beast asks that the stream's own deadline be off when it does.
  stream.expires_never();
  websocket_session session(stream, sampler, settings);
  auto [accept_ec] = co_await session.ws_.async_accept(exchange.request(), use_tuple);
  if (accept_ec) {
    // Beast has answered the request itself (400, or 426 for a wrong version).
    event_log::write(peer + " websocket " + path + " handshake failed: " + accept_ec.message());
    co_return exchange_result{http::status::bad_request, false};
  }

  open_websocket counted(counters);
  event_log::write(peer + " websocket " + path + " open (" + std::to_string(counted.open_after()) +
                   " open)");
  const auto started = std::chrono::steady_clock::now();
  {
    using namespace net::experimental::awaitable_operators;
    // All three end on their own (the reader's end stops the others), none throws on I/O errors:
    // `&&` only joins them, so the session outlives every operation on it.
    co_await (session.read_loop() && session.write_loop() && session.pace_loop());
  }
  const std::chrono::duration<double> lasted = std::chrono::steady_clock::now() - started;
  const auto left_open = counted.release();
  char figures[96];
  std::snprintf(figures, sizeof figures, ", %llu in / %llu out, %.1fs (%lld open)",
                static_cast<unsigned long long>(session.messages_in_),
                static_cast<unsigned long long>(session.messages_out_), lasted.count(),
                static_cast<long long>(left_open));
  event_log::write(peer + " websocket " + path + " " + session.ending(session.read_error_) +
                   figures);
  co_return exchange_result{http::status::switching_protocols, false};
}

websocket_session::websocket_session(beast::tcp_stream& stream, const stats_sampler& sampler,
                                     const websocket_settings& settings)
    : ws_(stream),
      sampler_(sampler),
      settings_(settings),
      writer_wake_(stream.get_executor()),
      pace_timer_(stream.get_executor()) {
  // Idle pings find a client that went away without a FIN; the handshake timeout also bounds the
  // closing handshake.
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = ws_handshake_timeout;
  timeouts.idle_timeout = ws_idle_timeout;
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, server_header()); }));
  if (settings.deflate) {
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    ws_.set_option(pmd);
  }
  ws_.read_message_max(max_ws_message_bytes);
  // One frame per message: what the stub sends is easy to read in a capture, and a proxy test sees
  // message boundaries unchanged.
  ws_.auto_fragment(false);
}

net::awaitable<void> websocket_session::read_loop() {
  beast::flat_buffer buffer;
  for (;;) {
    // Beast answers pings inside this read, and on a close frame echoes its code and reason, tears
    // the connection down and ends the read with websocket::error::closed.
    auto [ec, n] = co_await ws_.async_read(buffer, use_tuple);
    if (ec) {
      read_error_ = ec;
      break;
    }
    ++messages_in_;
    outgoing item;
    item.what = ws_.got_text() ? outgoing::kind::text : outgoing::kind::binary;
    item.payload = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    // A 16 MiB message should not pin 16 MiB for the rest of the connection.
    if (buffer.capacity() > read_chunk_bytes) {
      buffer.shrink_to_fit();
    }
    if (closing_) {
      // The close frame is queued; messages that cross it are read (to reach the client's close)
      // but not answered.
      continue;
    }
    if (item.what == outgoing::kind::text) {
      if (const auto command = parse_close_command(item.payload)) {
        close_later(command->code, std::string(command->reason));
        continue;
      }
    }
    enqueue(std::move(item));
  }
  finish();
}

net::awaitable<void> websocket_session::write_loop() {
  while (!finished_) {
    if (queue_.empty()) {
      writer_wake_.expires_at(std::chrono::steady_clock::time_point::max());
      co_await writer_wake_.async_wait(use_tuple);
      continue;
    }
    outgoing item = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= item.payload.size();
    if (item.what == outgoing::kind::close) {
      const websocket::close_reason reason(static_cast<websocket::close_code>(item.close_code),
                                           item.payload);
      // Beast sends the frame and then takes over the pending read to wait for the client's
      // answering close, so it is this operation that ends with success, and the reader's read
      // with operation_aborted.
      auto [ec] = co_await ws_.async_close(reason, use_tuple);
      stub_close_result_ = ec;
      co_return;
    }
    ws_.text(item.what == outgoing::kind::text);
    auto [ec, n] = co_await ws_.async_write(net::buffer(item.payload), use_tuple);
    if (ec) {
      drop();
      co_return;
    }
    ++messages_out_;
  }
}

net::awaitable<void> websocket_session::pace_loop() {
  using clock = std::chrono::steady_clock;
  const auto interval = std::chrono::duration_cast<clock::duration>(settings_.push_interval);
  const bool pushing = interval > clock::duration::zero();
  auto next = clock::now();
  while (!finished_ && !closing_) {
    // Without pushes the timer only waits to be cancelled by close_later() or finish().
    pace_timer_.expires_at(pushing ? next : clock::time_point::max());
    co_await pace_timer_.async_wait(use_tuple);
    if (finished_ || closing_ || !pushing) {
      continue;
    }
    // The seed sampled the CPU for every push as well; the sampler waits on a timer, so the
    // thread serves other connections meanwhile. The wait is not cancelled: a session may end up
    // to one sampling window (--stats-interval) after its connection.
    const nlohmann::json stats = co_await sampler_.sample();
    if (finished_ || closing_) {
      continue;
    }
    outgoing item;
    item.payload = json_text(stats);
    enqueue(std::move(item));
    // A fixed schedule, not a sleep after each push; if sampling took longer than the interval,
    // the next push follows at once rather than in a burst of catch-ups.
    next = std::max(next + interval, clock::now());
  }
  if (closing_ && !finished_) {
    // A client that reads nothing never lets the close frame out (the write before it is stuck).
    pace_timer_.expires_after(ws_handshake_timeout);
    co_await pace_timer_.async_wait(use_tuple);
    if (!finished_) {
      drop();
    }
  }
}

void websocket_session::enqueue(outgoing item) {
  if (finished_ || closing_) {
    return;
  }
  if (!queue_.empty() && queued_bytes_ + item.payload.size() > max_ws_queue_bytes) {
    // The client sends (or the pacer pushes) faster than it reads. What waits is dropped; the one
    // message being written finishes, then the close goes out.
    queue_.clear();
    queued_bytes_ = 0;
    close_later(websocket::close_code::policy_error, "write queue full");
    return;
  }
  queued_bytes_ += item.payload.size();
  queue_.push_back(std::move(item));
  writer_wake_.cancel();
}

void websocket_session::close_later(std::uint16_t code, std::string reason) {
  if (finished_ || closing_) {
    return;
  }
  closing_ = true;
  stub_close_.emplace(static_cast<websocket::close_code>(code), reason);
  outgoing item;
  item.what = outgoing::kind::close;
  item.payload = std::move(reason);
  item.close_code = code;
  queue_.push_back(std::move(item));
  writer_wake_.cancel();
  // The pacer stops pushing and starts the close deadline.
  pace_timer_.cancel();
}

void websocket_session::finish() {
  finished_ = true;
  writer_wake_.cancel();
  pace_timer_.cancel();
  // After a close handshake Beast has closed the socket already; after an error this ends a write
  // still pending (a client that stopped reading), so the writer returns too.
  drop();
}

void websocket_session::drop() {
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
}

std::string websocket_session::ending(const beast::error_code& read_error) const {
  if (stub_close_) {
    std::string text = "closed by stub " + describe(*stub_close_);
    if (stub_close_result_ && !*stub_close_result_) {
      return text + ", client answered " + describe(ws_.reason());
    }
    const auto failure = stub_close_result_ ? *stub_close_result_ : read_error;
    return text + ", then ended: " + failure.message();
  }
  if (read_error == websocket::error::closed) {
    // Beast has answered with the same code (RFC 6455 5.5.1); it does not repeat the reason.
    return "closed by client " + describe(ws_.reason());
  }
  return "ended: " + read_error.message();
}

}  // namespace sluice::stub
