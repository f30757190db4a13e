#include "net/request_exchange.hpp"

#include <utility>

#include <boost/beast/core/string.hpp>
#include <nlohmann/json.hpp>

#include "limiter/clock.hpp"
#include "net/downstream_session.hpp"
#include "net/head_writer.hpp"
#include "net/rate_limit_headers.hpp"
#include "net/websocket_upgrade.hpp"
#include "net/worker.hpp"

namespace sluice::net {
namespace beast = boost::beast;
namespace http = beast::http;

using namespace std::string_view_literals;

namespace {

constexpr std::size_t max_request_id = 128;

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > max_request_id) return false;
  for (const char c : id)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace

request_exchange::request_exchange(downstream_session& session,
                                   std::shared_ptr<const proxy_snapshot> snap,
                                   request_parser& parser)
    : session_(session),
      snap_(std::move(snap)),
      cfg_(snap_->cfg()),
      parser_(parser),
      adm_(session.admission_),
      request_id_(session.request_id_),
      upstream_(*this) {
  if (auto* m = snap_->metrics()) m->worker(session_.owner_.index()).in_flight.add(1);
}

request_exchange::~request_exchange() {
  if (holds_in_flight_) session_.owner_.shared().limiter().release(*route_, adm_.keys);
  record_.finish(*snap_, session_.owner_.index(), session_.owner_.access_log(), parser_.get(),
                 route_, decision_, session_.peer_text_, request_id_);
}

forwarding_context request_exchange::forwarding() const {
  return {adm_, cfg_, session_.peer_text_,
          record_.client_text.empty() ? std::string_view(session_.peer_text_)
                                      : std::string_view(record_.client_text),
          request_id_, snap_->strip_header_lengths()};
}

std::string request_exchange::upstream_target() const {
  std::string t(adm_.target.path);
  t.append(adm_.target.query);
  return t;
}

// Everything the decision needs comes from the request line and headers; no body byte has been
// read and no upstream work done, so a rejection costs the upstream nothing and a slow upstream
// can never stretch a window.
void request_exchange::decide() {
  auto& req = parser_.get();
  auto& fields = session_.fields_;
  fields.clear();
  for (const auto& f : req) fields.push_back({f.name_string(), f.value()});
  routing::request_view view;
  view.method = req.method_string();
  view.target = req.target();
  view.version = req.version();
  view.fields = fields;
  view.peer = session_.peer_;
  routing::decide(view, cfg_, snap_->routes(), adm_);
  if (!adm_.ok()) return;  // run() answers 400; the record says error
  route_ = adm_.route;
  if (!(adm_.client == session_.peer_)) record_.client_text = adm_.client.to_string();
  // A connection from the reserve carries only exempt requests, and no WebSocket (it would keep
  // its slot for hours); anything else is refused before the limiter counts it.
  if (session_.reserve_only() &&
      (!adm_.exempt || (route_->websocket && websocket_upgrade::wanted(req)))) {
    reserve_refused_ = true;
    record_.result = request_record::outcome::limited;
    if (auto* m = snap_->metrics())
      m->worker(session_.owner_.index()).refused(metrics::connection_refusal::reserve);
    return;
  }
  if (adm_.exempt) {
    record_.result = request_record::outcome::exempt;
    return;
  }
  // A connection from the reserve carries exempt requests only; anything else is refused here,
  // before the limiter, so the refusal costs nobody's quota.
  if (session_.reserve_only()) {
    record_.result = request_record::outcome::limited;
    return;
  }
  record_.result = request_record::outcome::allowed;
  if (route_->limits.empty()) return;
  decision_ = session_.owner_.shared().limiter().acquire(*route_, adm_.keys,
                                                        limiter::steady_clock_source::now());
  decided_ = true;
  if (!decision_.allowed()) {
    record_.result = request_record::outcome::limited;
    return;
  }
  if (decision_.shadow_refused) record_.result = request_record::outcome::shadow;  // forwarded all the same
  for (const auto& l : route_->limits)
    if (l.max_in_flight > 0) holds_in_flight_ = true;
}

request_exchange::local_error request_exchange::judge() {
  auto& req = parser_.get();
  version_ = req.version();
  // A reserve connection serves one request and goes, so the reserve turns over.
  client_keep_alive_ =
      parser_.keep_alive() && !session_.owner_.stopping() && !session_.reserve_only();
  is_head_ = req.method() == http::verb::head;

  // The fields this function needs, in one walk over the list (see connection_named).
  std::size_t te_count = 0, cl_count = 0;
  std::string_view te_value, incoming_id;
  for (const auto& f : req) {
    switch (f.name()) {
      case http::field::transfer_encoding: ++te_count; te_value = f.value(); break;
      case http::field::content_length: ++cl_count; break;
      case http::field::expect: expect_ = f.value(); break;
      case http::field::unknown:
        if (incoming_id.empty() && beast::iequals(f.name_string(), "X-Request-Id"))
          incoming_id = f.value();
        break;
      default: break;
    }
  }
  if (valid_request_id(incoming_id)) request_id_.assign(incoming_id);
  else session_.owner_.new_request_id(request_id_);

  // A request framed two ways is how smuggling starts: refuse it rather than pick one. And the
  // only transfer coding a request may use here is plain chunked: with anything else Beast
  // would see no body, and the body would be read as the next request.
  if (const auto te = te_count; te > 0) {
    if (cl_count > 0) {
      return {http::status::bad_request, "both Transfer-Encoding and Content-Length"};
    }
    std::string_view value = te_value;
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (te > 1 || !beast::iequals(value, "chunked")) {
      return {http::status::not_implemented, "unsupported Transfer-Encoding (only chunked)"};
    }
  }

  // A reverse proxy opens no tunnels: CONNECT has no path to route or limit.
  if (req.method() == http::verb::connect)
    return {http::status::method_not_allowed, "CONNECT is not supported"};

  decide();
  if (!adm_.ok()) return {http::status::bad_request, adm_.message()};
  if (reserve_refused_) {
    return {http::status::service_unavailable,
            "too many client connections: this one came from the reserve kept for exempt routes "
            "and allowlisted clients"};
  }
  return {};
}

// One co_await per way out: each awaited call adds its awaitable to the frame, and this frame
// must stay smaller than the other per-request frames (write_piece's 544 bytes), or it misses
// Asio's recycling cache and costs a memalign per request under concurrent connections.
task<bool> request_exchange::run() {
  local_error e = judge();
  if (e.status == http::status::unknown) {
    if (record_.result == request_record::outcome::limited) co_return co_await respond_limited();
    if (route_->websocket && websocket_upgrade::wanted(parser_.get()))
      co_return co_await websocket_upgrade(*this).run();
    const bool keep_alive = co_await upstream_.run();
    if (upstream_.error() == http::status::unknown) co_return keep_alive;
    e = {upstream_.error(), upstream_.error_message()};
  }
  co_return co_await respond_error(e.status, e.message);
}

void request_exchange::append_rate_limit_fields(head_writer& out) const {
  if (!decided_) return;
  const std::string& lines = snap_->policy_lines(*route_);
  if (lines.empty()) return;
  out.put(lines);  // "RateLimit-Policy: ...\r\nRateLimit: ", made once per config
  append_ratelimit_field(*route_, snap_->quoted_names(*route_), decision_, out);
  out.put("\r\n"sv);
}

task<bool> request_exchange::answer(local_response& r) {
  r.version = version_;
  // The client may still be sending a body we will not read: close rather than parse it as the
  // next request.
  r.keep_alive = r.keep_alive && client_keep_alive_ && parser_.is_done();
  r.headers.emplace_back("X-Request-Id", request_id_);
  record_.status = static_cast<unsigned>(r.status);
  const bool written = co_await send_local(session_.socket_, session_.dl_, r, cfg_);
  co_return written && r.keep_alive;
}

task<bool> request_exchange::respond_limited() {
  const auto& d = decision_;
  const auto& l = route_->limits[static_cast<std::size_t>(d.limit_index)];
  const bool full = d.refused == limiter::refusal::table_full;
  co_return co_await respond_refused(
      full ? http::status::service_unavailable : http::status::too_many_requests,
      full                                        ? "rate limiter at capacity"
      : d.refused == limiter::refusal::in_flight ? "too many requests in flight"
                                                  : "rate limit exceeded",
      l.name, ceil_seconds(d.limiting.retry_after_ns));
}

// Every refusal looks the same: JSON {error, route, limit, retry_after_s}, Retry-After, and the
// route's RateLimit fields when its limits were asked.
task<bool> request_exchange::respond_refused(http::status status, std::string_view message,
                                             std::string_view limit, std::uint64_t retry_s) {
  local_response r;
  r.keep_alive = true;
  r.status = status;
  nlohmann::json body;
  body["error"] = message;
  body["route"] = route_->name;
  body["limit"] = limit;
  body["retry_after_s"] = retry_s;
  r.body = body.dump();
  r.headers.emplace_back("Retry-After", std::to_string(retry_s));
  const std::string& policy = snap_->policy_header(*route_);
  if (!policy.empty() && decided_) {
    r.headers.emplace_back("RateLimit-Policy", policy);
    std::string value;
    append_ratelimit_field(*route_, snap_->quoted_names(*route_), decision_, value);
    r.headers.emplace_back("RateLimit", value);
  }
  co_return co_await answer(r);
}

task<bool> request_exchange::respond_error(http::status status, std::string_view message) {
  local_response r;
  r.status = status;
  // After a request sluice could not frame, the rest of the stream cannot be trusted either; a
  // refused CONNECT may be followed by tunnel bytes; a 503 (the reserve, no descriptors) gives
  // the connection back.
  r.keep_alive = status != http::status::bad_request && status != http::status::not_implemented &&
                 status != http::status::method_not_allowed &&
                 status != http::status::service_unavailable;
  if (status == http::status::service_unavailable) r.headers.emplace_back("Retry-After", "1");
  r.body = json_error(message, {{"request_id", request_id_}});
  co_return co_await answer(r);
}

}  // namespace sluice::net
