#include "net/websocket_relay.hpp"

#include <optional>

#include <boost/asio/as_tuple.hpp>

#include "net/websocket_link.hpp"
#include "net/websocket_pump.hpp"
#include "net/websocket_side.hpp"
#include "websocket/close_code.hpp"

namespace sluice::net {
namespace asio = boost::asio;
namespace ws = sluice::websocket;

namespace {
constexpr auto nothrow = asio::as_tuple(use_task);
using clock = std::chrono::steady_clock;
// After a close is started, how long the sides get to finish the closing handshake and close
// their TCP connections before both are dropped.
constexpr auto close_grace = std::chrono::seconds(5);
// When that passes with a side still waiting for the other's answer to its close, sluice
// answers for the other, and the answer gets this long to go out.
constexpr auto answer_grace = std::chrono::seconds(1);

std::uint16_t code_of(ws::close_code c) { return static_cast<std::uint16_t>(c); }
}  // namespace

struct websocket_relay::impl {
  impl(socket_t u, const config::websocket_settings& s, message_limit l, config::duration handshake,
       std::size_t header_bytes)
      : link(u.get_executor()), upstream(std::move(u), false, link), settings(s), limit(l),
        handshake_timeout(handshake), max_header_bytes(header_bytes) {}

  websocket_link link;
  std::optional<websocket_side> client;  // made when the client's handshake starts
  websocket_side upstream;
  config::websocket_settings settings;
  message_limit limit;
  config::duration handshake_timeout;
  std::size_t max_header_bytes;
  std::string upstream_early;  // frames the upstream sent with its 101
  std::string client_early;    // bytes the client sent after its request
  std::optional<websocket_pump> to_upstream, to_client;
  std::function<void()> client_done;  // for the client side, once it is made
  bool started = false;
  bool stop_requested = false;  // shutdown came before the relay started

  void hard_close() {
    if (client) client->abort();
    upstream.abort();
  }

  void close_both(std::uint16_t code, std::string_view reason) {
    const close_frame f = make_close(code, reason);
    if (client) client->send_close(f);
    upstream.send_close(f);
  }

  // A side whose close went on and whose answer has not come: sluice answers, with its code.
  bool answer_for_peer(websocket_side& s) {
    if (!s.awaiting_reply || s.close_sent || s.gone) return false;
    s.awaiting_reply = false;
    s.send_close(s.close_code ? make_close(*s.close_code, "") : close_frame{});
    return true;
  }
};

websocket_relay::websocket_relay(socket_t upstream, const config::websocket_settings& settings,
                                 message_limit limit, config::duration handshake_timeout,
                                 std::size_t max_header_bytes)
    : impl_(std::make_unique<impl>(std::move(upstream), settings, limit, handshake_timeout,
                                   max_header_bytes)) {}

websocket_relay::~websocket_relay() = default;

task<upstream_upgrade> websocket_relay::open_upstream(std::string_view host, std::string_view target,
                                                      const field_list& fields) {
  auto& d = *impl_;
  upstream_request req;
  req.host = host;
  req.target = target;
  req.fields = &fields;
  req.compression = &d.settings.compression;
  req.timeout = d.handshake_timeout;
  req.max_header_bytes = d.max_header_bytes;
  upstream_upgrade out = co_await upgrade_upstream(d.upstream.socket, req);
  if (out.upgraded) {
    d.upstream.deflate = out.deflate;
    d.upstream_early = std::move(out.early);
  }
  co_return out;
}

task<bool> websocket_relay::accept_client(socket_t client, std::string_view key,
                                          std::string_view extensions,
                                          const field_list& response_fields, std::string_view early) {
  auto& d = *impl_;
  auto& c = d.client.emplace(std::move(client), true, d.link);
  c.on_done = std::move(d.client_done);
  std::string answer;
  c.deflate = ws::accept_offer(extensions, d.settings.compression, answer);
  const bool ok = co_await switch_protocols(c.socket, key, answer, response_fields, d.handshake_timeout);
  if (!ok) {
    d.link.note("client gone before its 101");
    // The upstream has a WebSocket open: close it properly, within the grace period.
    d.upstream.send_close(make_close(code_of(ws::close_code::going_away), "client went away"));
    d.client->mark_gone();
    co_await run();
    co_return false;
  }
  d.client_early.assign(early);
  co_return true;
}

task<std::string> websocket_relay::run() {
  auto& d = *impl_;
  boost::system::error_code ignored;
  d.upstream.socket.non_blocking(true, ignored);
  if (d.client) {
    // The upstream is read even when the client is gone: its answer to our close, then its FIN.
    d.to_client.emplace(d.upstream, *d.client, d.settings, nullptr, d.upstream_early);
    d.link.spawn(d.to_client->run());
    if (!d.client->gone) {
      d.client->socket.non_blocking(true, ignored);
      d.to_upstream.emplace(*d.client, d.upstream, d.settings, &d.limit, d.client_early);
      d.link.spawn(d.to_upstream->run());
    }
    std::string().swap(d.upstream_early);
    std::string().swap(d.client_early);
    d.started = true;
    if (d.stop_requested) going_away();
  }
  const auto idle = std::chrono::duration_cast<clock::duration>(d.settings.idle_timeout);
  auto answer_deadline = clock::time_point::max();
  bool dropped = false;
  auto drop = [&] {
    d.link.note("closing handshake not finished in time: connections dropped");
    d.hard_close();
    dropped = true;
  };
  while (d.link.outstanding > 0) {
    const auto now = clock::now();
    auto next = clock::time_point::max();
    // A write that has not finished in idle_timeout: that side stopped reading.
    for (websocket_side* s : {d.client ? &*d.client : nullptr, &d.upstream}) {
      if (s == nullptr || !s->writing || s->gone) continue;
      if (now - s->write_started >= idle) {
        d.link.note(std::string(s->name()) + " stopped reading for idle_timeout: dropped");
        s->abort();
        d.close_both(code_of(ws::close_code::going_away), "peer stopped reading");
      } else {
        next = std::min(next, s->write_started + idle);
      }
    }
    if (!d.link.closing()) {
      if (now - d.link.last_activity >= idle) {
        d.link.note("idle for idle_timeout: closed with 1001");
        d.close_both(code_of(ws::close_code::going_away), "idle timeout");
      } else {
        next = std::min(next, d.link.last_activity + idle);
      }
    }
    if (d.link.closing() && !dropped) {
      const auto grace_end = d.link.closing_since + close_grace;
      if (answer_deadline != clock::time_point::max()) {
        if (now >= answer_deadline) drop();
      } else if (now >= grace_end) {
        bool answered = d.answer_for_peer(d.upstream);
        if (d.client) answered = d.answer_for_peer(*d.client) || answered;
        if (answered) answer_deadline = now + answer_grace;
        else drop();
      }
      // Once dropped, every operation ends with an error at once: wait for them, no deadline.
      if (!dropped)
        next = std::min(next, answer_deadline != clock::time_point::max() ? answer_deadline : grace_end);
    }
    d.link.wake.expires_at(next);
    co_await d.link.wake.async_wait(nothrow);
  }
  // Both readers have seen their side's end (or were dropped): nothing unread is left to turn
  // the close into a reset.
  if (d.client) d.client->socket.close(ignored);
  d.upstream.socket.close(ignored);
  d.to_client.reset();
  d.to_upstream.reset();
  co_return d.link.how.empty() ? std::string("closed") : d.link.how;
}

void websocket_relay::going_away() {
  auto& d = *impl_;
  if (!d.started) {
    d.stop_requested = true;  // run() closes at once when it starts
    return;
  }
  d.link.note("proxy shutting down: closed with 1001");
  d.close_both(code_of(ws::close_code::going_away), "proxy shutting down");
}

void websocket_relay::abort() { impl_->hard_close(); }

void websocket_relay::when_client_done(std::function<void()> f) { impl_->client_done = std::move(f); }

}  // namespace sluice::net
