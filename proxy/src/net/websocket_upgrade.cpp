#include "net/websocket_upgrade.hpp"

#include <utility>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include "common/log.hpp"
#include "net/downstream_session.hpp"
#include "net/forwarding_head.hpp"
#include "net/local_response.hpp"
#include "net/rate_limit_headers.hpp"
#include "net/request_exchange.hpp"
#include "net/websocket_relay.hpp"
#include "net/worker.hpp"
#include "websocket/handshake_key.hpp"

namespace sluice::net {
namespace beast = boost::beast;
namespace http = beast::http;

bool websocket_upgrade::wanted(const request_message& req) {
  if (!beast::iequals(req[http::field::upgrade], "websocket")) return false;
  for (const auto token : http::token_list{req[http::field::connection]})
    if (beast::iequals(std::string_view(token.data(), token.size()), "upgrade")) return true;
  return false;
}

task<bool> websocket_upgrade::run() {
  auto& req = ex_.parser_.get();
  const auto& ws = *ex_.route_->websocket;
  auto& shared = ex_.session_.owner_.shared();
  const auto& up = ex_.cfg_.upstream;

  if (req.method() != http::verb::get || req.version() != 11 ||
      !websocket::is_valid_key(req[http::field::sec_websocket_key]) || !ex_.parser_.is_done()) {
    co_return co_await ex_.respond_error(http::status::bad_request,
                                     "malformed WebSocket upgrade (RFC 6455 4.1: GET, HTTP/1.1, "
                                     "Sec-WebSocket-Key of 16 bytes in base64, no body)");
  }
  if (req[http::field::sec_websocket_version] != "13") {
    local_response r;
    r.status = http::status::upgrade_required;
    r.body = json_error("unsupported WebSocket version (only 13)", {{"request_id", ex_.request_id_}});
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    co_return co_await ex_.answer(r);
  }

  // The connection caps, after the route's rate limits have counted the handshake.
  const ip_address key_addr = ex_.adm_.key_address;
  const limiter::websocket_caps caps{ws.max_connections_per_ip, ws.max_connections,
                                     ex_.cfg_.caps.max_websockets};
  const auto refused = shared.websocket_slots().acquire(ex_.route_->name, key_addr, caps);
  if (refused != limiter::websocket_refusal::none) {
    const bool global = refused == limiter::websocket_refusal::global;
    metrics::websocket_refusal reason = metrics::websocket_refusal::global;
    std::string limit = "caps.max_websockets " + std::to_string(ex_.cfg_.caps.max_websockets);
    if (refused == limiter::websocket_refusal::per_ip) {
      reason = metrics::websocket_refusal::per_ip;
      limit = "websocket.max_connections_per_ip " + std::to_string(ws.max_connections_per_ip);
    } else if (refused == limiter::websocket_refusal::per_route) {
      reason = metrics::websocket_refusal::per_route;
      limit = "websocket.max_connections " + std::to_string(ws.max_connections);
    }
    if (auto* s = ex_.snap_->route_metrics(*ex_.route_))
      s->cells(ex_.session_.owner_.index()).websocket_refused[static_cast<std::size_t>(reason)].add();
    ex_.record_.result = request_record::outcome::limited;
    co_return co_await ex_.respond_refused(
        global ? http::status::service_unavailable : http::status::too_many_requests,
        global ? "too many WebSocket connections on this proxy" : "too many WebSocket connections",
        limit, 1);
  }
  // Held for the life of the WebSocket and given back exactly once, however it ends. An upgrade
  // that fails gives it back before the client hears so: a client that retries at once, or an
  // operator reading the gauge, must not find it still taken.
  struct slot_guard {
    limiter::websocket_slots& slots;
    const std::string& route;
    ip_address key;
    bool held = true;
    void release() {
      if (held) slots.release(route, key);
      held = false;
    }
    ~slot_guard() { release(); }
  } slot{shared.websocket_slots(), ex_.route_->name, key_addr};

  // The upgrade goes to the upstream first: the client is answered 101 only once the upstream
  // has said yes (and with the subprotocol it chose).
  ex_.record_.upstream_started();
  connect_failure failure = connect_failure::none;
  auto conn = ex_.session_.owner_.pool().take_idle(up);
  if (!conn) conn = co_await ex_.session_.owner_.pool().connect(up, ex_.cfg_.timeouts.body, failure);
  if (!conn) {
    ex_.record_.upstream_ended();
    slot.release();
    if (auto* m = ex_.snap_->metrics()) m->worker(ex_.session_.owner_.index()).upstream_connect_errors.add();
    if (failure == connect_failure::timeout)
      co_return co_await ex_.respond_error(http::status::gateway_timeout, "upstream connect timeout");
    co_return co_await ex_.respond_error(http::status::bad_gateway, "upstream unavailable");
  }
  conn->drop_standing_read();  // the relay reads this socket from now on
  conn->dl.cancel();
  message_limit ml;
  if (const config::route* mr = ex_.snap_->message_route(*ex_.route_)) {
    ml.lim = &shared.limiter();
    ml.route = mr;
    ml.key.limit_id = mr->limits.front().id;
    ml.key.value = key_addr.bytes;
    ml.action = ws.on_message_limit;
  }
  websocket_relay relay(std::move(conn->socket), ws, ml, up.response_timeout,
                        ex_.cfg_.caps.max_header_bytes);
  // The slot goes back as soon as the client's side is closed, before it sees sluice's FIN: a
  // client that closes and opens again at once finds its place free.
  relay.when_client_done([&slot] { slot.release(); });
  // The socket is the relay's: the rest of the pooled connection (its buffer, its deadline's
  // timer) would only sit in this frame for the life of the WebSocket.
  conn.reset();
  struct relay_watch {
    downstream_session& session;
    ~relay_watch() { session.relay_ = nullptr; }
  } watch{ex_.session_};
  ex_.session_.relay_ = &relay;

  // The handshakes' fields and buffers live in this block: they are gone while the relay runs.
  bool accepted = false;
  {
  // End-to-end fields of the client's request, with sluice's forwarding fields.
  std::string host;
  field_list fields = websocket_request_fields(req, ex_.forwarding(), host);

  const std::string target = ex_.upstream_target();
  upstream_upgrade answer_up = co_await relay.open_upstream(host, target, fields);
  if (!answer_up.upgraded) {
    ex_.record_.upstream_ended();
    slot.release();
    if (answer_up.timed_out) {
      if (auto* m = ex_.snap_->metrics()) m->worker(ex_.session_.owner_.index()).upstream_timeouts.add();
      co_return co_await ex_.respond_error(http::status::gateway_timeout,
                                       "upstream did not answer the WebSocket upgrade in time");
    }
    if (answer_up.failed || answer_up.status == 0) {
      log_event(log_level::warn, "websocket " + ex_.request_id_ + " on " + ex_.route_->name +
                                     ": upstream failed the upgrade: " + answer_up.error);
      co_return co_await ex_.respond_error(http::status::bad_gateway,
                                       "upstream failed the WebSocket upgrade");
    }
    // The upstream said no (401, 404, ...): the client hears exactly that, labelled as it was.
    local_response r;
    r.keep_alive = true;
    r.status = static_cast<http::status>(answer_up.status);
    r.body = std::move(answer_up.body);
    r.content_type = answer_up.content_type;
    // local_response takes views: they point into answer_up, which outlives the write.
    for (const auto& [name, value] : answer_up.fields) {
      if (beast::iequals(name, "X-Request-Id")) continue;
      r.headers.emplace_back(name, value);
    }
    co_return co_await ex_.answer(r);
  }

  // The client's side of the handshake: 101 with what the upstream agreed to.
  const std::string key(req[http::field::sec_websocket_key]);
  std::string offers;
  for (const auto& f : req) {
    if (f.name() != http::field::sec_websocket_extensions) continue;
    if (!offers.empty()) offers += ", ";
    offers.append(f.value().data(), f.value().size());
  }
  field_list response_fields;
  for (auto& [name, value] : answer_up.fields) {
    if (beast::iequals(name, "X-Request-Id")) continue;
    response_fields.emplace_back(std::move(name), std::move(value));
  }
  response_fields.emplace_back("X-Request-Id", ex_.request_id_);
  if (ex_.decided_) {
    const std::string& policy = ex_.snap_->policy_header(*ex_.route_);
    if (!policy.empty()) {
      response_fields.emplace_back("RateLimit-Policy", policy);
      std::string value;
      append_ratelimit_field(*ex_.route_, ex_.snap_->quoted_names(*ex_.route_), ex_.decision_, value);
      response_fields.emplace_back("RateLimit", value);
    }
  }
  ex_.session_.dl_.cancel();
  ex_.record_.status = 101;
  // Bytes after the request are the client's first frames (sent before it saw the 101); the
  // session's buffer is let go: this connection reads no more HTTP.
  auto& buffer = ex_.session_.buffer_;
  const std::string early = beast::buffers_to_string(buffer.data());
  buffer.consume(buffer.size());
  buffer.shrink_to_fit();
  ex_.session_.body_buffer_.reset();
  accepted = co_await relay.accept_client(std::move(ex_.session_.socket_), key, offers,
                                          response_fields, early);
  }
  if (!accepted) {
    ex_.record_.status = 499;
    co_return false;
  }
  ex_.record_.upgraded_at = request_record::clock::now();
  if (auto* m = ex_.snap_->metrics()) m->worker(ex_.session_.owner_.index()).in_flight.add(-1);
  const std::string how = co_await relay.run();
  ex_.record_.upstream_ended();
  log_event(log_level::info, "websocket " + ex_.request_id_ + " on " + ex_.route_->name + ": " + how);
  co_return false;  // the connection was the WebSocket's; it is closed now
}

}  // namespace sluice::net
