#include "net/websocket_relay.hpp"

#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "limiter/clock.hpp"

namespace sluice::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {
constexpr auto nothrow = asio::as_tuple(use_task);
// After a close is started, how long the sides get to finish the closing handshake (and a
// stalled write to drain) before both connections are dropped.
constexpr auto close_grace = std::chrono::seconds(5);

bool is_hop_by_hop_name(std::string_view n) {
  for (const std::string_view h : {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                                   "transfer-encoding", "upgrade", "content-length",
                                   "proxy-authorization", "proxy-authenticate"})
    if (beast::iequals(n, h)) return true;
  return false;
}

// Fields the websocket streams write themselves on each side.
bool is_handshake_field(std::string_view n) {
  return beast::iequals(n, "sec-websocket-key") || beast::iequals(n, "sec-websocket-accept") ||
         beast::iequals(n, "sec-websocket-version") ||
         beast::iequals(n, "sec-websocket-extensions") || beast::iequals(n, "host");
}

}  // namespace

struct websocket_relay::impl {
  using ws_stream = websocket::stream<socket_t>;

  impl(socket_t u, const config::websocket_settings& s, message_limit l,
       config::duration handshake)
      : upstream(std::move(u)), settings(s), limit(l), wake(upstream.get_executor()),
        idle_timer(upstream.get_executor()), handshake_timeout(handshake) {
    configure(upstream);
  }

  void configure(ws_stream& ws) {
    ws.read_message_max(settings.max_message_bytes);
    ws.auto_fragment(false);
    // Beast's timer bounds the handshakes and the closing handshake; idleness is ours.
    ws.set_option(websocket::stream_base::timeout{
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(handshake_timeout),
        websocket::stream_base::none(), false});
  }

  std::optional<ws_stream> client_stream;  // made when the client's handshake starts
  ws_stream upstream;
  ws_stream& client() { return *client_stream; }
  config::websocket_settings settings;
  message_limit limit;
  timer_t wake;        // run() sleeps on it until the spawned work is done
  timer_t idle_timer;  // fires after idle_timeout without a message
  config::duration handshake_timeout;
  std::unique_ptr<char[]> client_buf, upstream_buf;  // one per direction, made for the relay
  int outstanding = 0;   // spawned coroutines still running
  int pumps = 0;         // of which relay directions
  bool closing = false;  // a close has been started (grace period running)
  bool client_close_sent = false, upstream_close_sent = false;
  bool client_ping_pending = false, upstream_ping_pending = false;
  bool stop_requested = false;  // shutdown came before the relay started
  std::string how;  // first reason the relay ended
  std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();

  void note(std::string reason) {
    if (how.empty()) how = std::move(reason);
  }

  template <class F>
  void spawn(F&& f) {
    ++outstanding;
    asio::co_spawn(upstream.get_executor(), std::forward<F>(f), [this](std::exception_ptr) {
      --outstanding;
      wake.cancel();
    });
  }

  // Starts the closing handshake on one side, once.
  void close_side(bool client_side, websocket::close_reason reason) {
    bool& sent = client_side ? client_close_sent : upstream_close_sent;
    if (sent) return;
    sent = true;
    closing = true;
    wake.cancel();
    ws_stream& ws = client_side ? client() : upstream;
    spawn([&ws, reason]() -> task<void> {
      co_await ws.async_close(reason, nothrow);
    });
  }

  void hard_close() {
    boost::system::error_code ignored;
    if (client_stream) beast::get_lowest_layer(client()).close(ignored);
    beast::get_lowest_layer(upstream).close(ignored);
  }

  // A ping from one side goes on to the other (the sender's pong comes from Beast at once; the
  // other side's pong is not passed back, or the sender would get two).
  void forward_ping(bool to_client, beast::string_view payload) {
    bool& pending = to_client ? client_ping_pending : upstream_ping_pending;
    if (pending || closing) return;  // one at a time: a ping is a liveness probe, not data
    pending = true;
    ws_stream& ws = to_client ? client() : upstream;
    websocket::ping_data data(payload.substr(0, websocket::ping_data::static_capacity));
    spawn([&ws, &pending, data]() -> task<void> {
      co_await ws.async_ping(data, nothrow);
      pending = false;
    });
  }

  // Client-to-upstream message admission: true to relay, false to drop (or after closing).
  bool admit_message(bool& stop) {
    stop = false;
    if (limit.lim == nullptr) return true;
    const std::array<limiter::limit_key, 1> keys{limit.key};
    const auto d = limit.lim->acquire(*limit.route, keys, limiter::steady_clock_source::now());
    if (d.allowed()) return true;
    if (limit.action == config::message_limit_action::close) {
      note("client over messages_per_ip: closed with 1008");
      close_side(true, websocket::close_reason(websocket::close_code::policy_error,
                                               "message rate limit exceeded"));
      close_side(false, websocket::close_reason(websocket::close_code::going_away,
                                                "client closed by proxy"));
      stop = true;
    }
    return false;
  }

  task<void> pump(bool from_client) {
    ws_stream& from = from_client ? client() : upstream;
    ws_stream& to = from_client ? upstream : client();
    char* buf = from_client ? client_buf.get() : upstream_buf.get();
    const std::size_t cap = settings.max_queued_bytes;
    bool in_message = false;
    bool dropping = false;
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(buf, cap), nothrow);
      if (ec) {
        ended(from_client, ec);
        break;
      }
      last_activity = std::chrono::steady_clock::now();
      if (!in_message) {
        in_message = true;
        dropping = false;
        if (from_client) {
          bool stop = false;
          dropping = !admit_message(stop);
          if (stop) break;
        }
        to.binary(from.got_binary());
      }
      const bool fin = from.is_message_done();
      if (!dropping) {
        auto [wec, wn] = co_await to.async_write_some(fin, asio::buffer(buf, n), nothrow);
        if (wec) {
          // The other side is gone or closing; its own reader reports how.
          if (!closing) {
            note(std::string(from_client ? "upstream" : "client") + " write failed: " + wec.message());
            close_side(from_client, websocket::close_reason(websocket::close_code::going_away,
                                                            "peer went away"));
          }
          break;
        }
      }
      if (fin) in_message = false;
    }
    if (--pumps == 0) idle_timer.cancel();
  }

  // `from` ended with `ec`: tell the other side the same way, if it can still hear it.
  void ended(bool from_client, boost::system::error_code ec) {
    const char* side = from_client ? "client" : "upstream";
    if (ec == websocket::error::closed) {
      const websocket::close_reason r = (from_client ? client() : upstream).reason();
      note(std::string(side) + " closed (" + std::to_string(r.code) + ")");
      // Beast answered that close itself: that side needs no close from us.
      (from_client ? client_close_sent : upstream_close_sent) = true;
      close_side(!from_client, r);
    } else if (ec == websocket::error::message_too_big) {
      // Beast has already closed that side with 1009.
      note(std::string(side) + " sent a message over max_message_size: closed with 1009");
      if (from_client) client_close_sent = true;
      else upstream_close_sent = true;
      close_side(!from_client, websocket::close_reason(websocket::close_code::going_away,
                                                       "peer sent a message too big"));
    } else {
      note(std::string(side) + " ended: " + ec.message());
      close_side(!from_client,
                 websocket::close_reason(websocket::close_code::going_away,
                                         from_client ? "client went away" : "upstream went away"));
      closing = true;
    }
  }

  task<void> watch_idle() {
    while (pumps > 0) {
      idle_timer.expires_at(last_activity + settings.idle_timeout);
      auto [ec] = co_await idle_timer.async_wait(nothrow);
      if (pumps == 0 || closing) break;
      if (ec) continue;  // woken early (activity is read afresh)
      if (std::chrono::steady_clock::now() - last_activity >= settings.idle_timeout) {
        note("idle for idle_timeout: closed with 1001");
        const websocket::close_reason r(websocket::close_code::going_away, "idle timeout");
        close_side(true, r);
        close_side(false, r);
        break;
      }
    }
  }
};

websocket_relay::websocket_relay(socket_t upstream, const config::websocket_settings& settings,
                                 message_limit limit, config::duration handshake_timeout)
    : impl_(std::make_unique<impl>(std::move(upstream), settings, limit, handshake_timeout)) {}

websocket_relay::~websocket_relay() = default;

task<upstream_upgrade> websocket_relay::open_upstream(std::string host,
                                                                 std::string target,
                                                                 field_list fields) {
  auto& up = impl_->upstream;
  up.set_option(websocket::stream_base::decorator([fields](websocket::request_type& req) {
    req.erase(http::field::user_agent);
    for (const auto& [name, value] : fields) req.insert(name, value);
  }));
  websocket::response_type res;
  auto [ec] = co_await up.async_handshake(res, host, target, nothrow);
  upstream_upgrade out;
  for (const auto& f : res) {
    const std::string_view name = f.name_string();
    if (is_hop_by_hop_name(name) || is_handshake_field(name)) continue;
    out.fields.emplace_back(std::string(name), std::string(f.value()));
  }
  if (!ec) {
    out.upgraded = true;
    co_return out;
  }
  if (res.result_int() != 0 && res.result_int() != 101) {
    out.status = res.result_int();
    out.body = std::move(res.body());
  } else if (ec == beast::error::timeout) {
    out.timed_out = true;
  } else {
    out.failed = true;
  }
  co_return out;
}

task<bool> websocket_relay::accept_client(socket_t client, std::string target,
                                                     field_list fields,
                                                     field_list response_fields) {
  http::request<http::empty_body> req{http::verb::get, target, 11};
  for (const auto& [name, value] : fields) req.insert(name, value);
  auto& c = impl_->client_stream.emplace(std::move(client));
  impl_->configure(c);
  c.set_option(websocket::stream_base::decorator(
      [response_fields](websocket::response_type& res) {
        res.erase(http::field::server);
        for (const auto& [name, value] : response_fields) res.insert(name, value);
      }));
  auto [ec] = co_await c.async_accept(req, nothrow);
  if (ec) {
    impl_->note("client handshake failed: " + ec.message());
    const websocket::close_reason r(websocket::close_code::going_away, "client went away");
    auto [cec] = co_await impl_->upstream.async_close(r, nothrow);
    (void)cec;
    co_return false;
  }
  co_return true;
}

task<std::string> websocket_relay::run() {
  auto& d = *impl_;
  d.client_buf = std::make_unique_for_overwrite<char[]>(d.settings.max_queued_bytes);
  d.upstream_buf = std::make_unique_for_overwrite<char[]>(d.settings.max_queued_bytes);
  d.client().control_callback([&d](websocket::frame_type kind, beast::string_view payload) {
    if (kind == websocket::frame_type::ping) d.forward_ping(false, payload);
  });
  d.upstream.control_callback([&d](websocket::frame_type kind, beast::string_view payload) {
    if (kind == websocket::frame_type::ping) d.forward_ping(true, payload);
  });
  d.pumps = 2;
  d.spawn(d.pump(true));
  d.spawn(d.pump(false));
  d.spawn(d.watch_idle());
  if (d.stop_requested) going_away();
  // Wait for everything spawned; once closing, give the closing handshakes a grace period.
  auto close_started = std::chrono::steady_clock::time_point::max();
  while (d.outstanding > 0) {
    if (d.closing && close_started == std::chrono::steady_clock::time_point::max())
      close_started = std::chrono::steady_clock::now();
    if (d.closing) d.wake.expires_at(close_started + close_grace);
    else d.wake.expires_at(std::chrono::steady_clock::time_point::max());
    auto [ec] = co_await d.wake.async_wait(nothrow);
    if (!ec && d.closing && d.outstanding > 0) {
      d.note("closing handshake not finished in time: connections dropped");
      d.hard_close();
      close_started = std::chrono::steady_clock::now();  // the drop finishes the rest at once
    }
  }
  d.client().control_callback();
  d.upstream.control_callback();
  d.hard_close();
  co_return d.how.empty() ? std::string("closed") : d.how;
}

void websocket_relay::going_away() {
  auto& d = *impl_;
  if (!d.client_stream || d.pumps == 0) {
    d.stop_requested = true;  // run() closes at once when it starts
    return;
  }
  d.note("proxy shutting down: closed with 1001");
  const websocket::close_reason r(websocket::close_code::going_away, "proxy shutting down");
  d.close_side(true, r);
  d.close_side(false, r);
}

void websocket_relay::abort() { impl_->hard_close(); }

}  // namespace sluice::net
