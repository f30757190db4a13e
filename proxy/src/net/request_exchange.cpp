#include "net/request_exchange.hpp"

#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/container/small_vector.hpp>
#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "limiter/clock.hpp"
#include "net/downstream_session.hpp"
#include "net/head_writer.hpp"
#include "net/http_io.hpp"
#include "net/rate_limit_headers.hpp"
#include "net/websocket_relay.hpp"
#include "net/worker.hpp"
#include "routing/client_ip.hpp"

namespace sluice::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

using namespace std::string_view_literals;

namespace {

constexpr auto nothrow = asio::as_tuple(use_task);
constexpr std::size_t body_chunk = 16 * 1024;
constexpr std::size_t max_request_id = 128;
// Upstream responses are trusted more than clients, but cookies and CSP make big heads.
constexpr std::uint32_t upstream_header_limit = 64 * 1024;
// Interim answers (100, 103) read past before the response; more is a broken upstream.
constexpr int max_interim_responses = 8;
constexpr std::string_view continue_100 = "HTTP/1.1 100 Continue\r\n\r\n";

// Hop-by-hop fields (RFC 9110 7.6.1) never cross the proxy. Transfer-Encoding is not among
// them here: each head is framed for its own side below.
bool is_hop_by_hop(http::field f) {
  switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::upgrade:
    case http::field::proxy_authorization:
    case http::field::proxy_authenticate:
      return true;
    default:
      return false;
  }
}

using name_list = boost::container::small_vector<std::string_view, 4>;

// Fields the Connection header names are hop-by-hop too (never the framing ones: those are
// ours to set, whatever a peer claims).
// A walk over the field list, not a lookup: Beast's lookups search a case-insensitive tree, and
// on the per-request path a handful of them cost more than reading every field once.
template <class Fields>
name_list connection_named(const Fields& f) {
  name_list named;
  for (const auto& field : f) {
    if (field.name() != http::field::connection) continue;
    // The usual values name nothing else: skip the token parse.
    const std::string_view v = field.value();
    if (beast::iequals(v, "keep-alive") || beast::iequals(v, "close")) continue;
    for (const auto token : http::token_list{field.value()}) {
      const std::string_view t(token.data(), token.size());
      if (!beast::iequals(t, "close") && !beast::iequals(t, "keep-alive") &&
          !beast::iequals(t, "transfer-encoding") && !beast::iequals(t, "content-length"))
        named.push_back(t);
    }
  }
  return named;
}

bool is_named(const name_list& named, std::string_view name) {
  for (const auto n : named)
    if (beast::iequals(n, name)) return true;
  return false;
}

// What the client's forwarding fields said, for the ones sluice writes in their place.
struct forwarding {
  std::string_view host;   // the Host value (empty when absent)
  std::string_view proto;  // X-Forwarded-Proto, from a trusted proxy only
  boost::container::small_vector<std::string_view, 2> chain;  // X-Forwarded-For, trusted only
  // A trusted proxy that wrote only Forwarded: its for= addresses, as X-Forwarded-For elements.
  std::string chain_from_forwarded;
};

bool in_strip_list(std::string_view name, const std::vector<std::string>& list,
                   std::uint64_t lengths) {
  if (name.size() >= 64 || ((lengths >> name.size()) & 1) == 0) return false;
  for (const auto& s : list)
    if (beast::iequals(name, s)) return true;
  return false;
}

// Walks the client's fields as the upstream gets them, calling `emit(name, value)` for each
// end-to-end field in order. Left out: hop-by-hop fields and those Connection names; framing
// (sluice states its own: a copied Content-Length or Transfer-Encoding that disagreed with what
// is sent would be a smuggling vector); X-Forwarded-For, X-Real-IP and X-Request-Id (sluice
// writes its own); from an untrusted peer, X-Forwarded-Proto and every client_ip.strip_headers
// field (so the upstream never sees an address or a scheme a client made up). For a WebSocket
// handshake also Host and the handshake's own fields, which the handshake writes.
template <class Fields, class Emit>
forwarding end_to_end_fields(const Fields& req, const routing::admission& adm,
                             const config::client_ip_settings& ip_cfg, bool websocket,
                             Emit&& emit) {
  const name_list named = connection_named(req);
  const bool peer_trusted = adm.peer_trusted;
  std::uint64_t strip_lengths = 0;
  if (!peer_trusted)
    for (const auto& n : ip_cfg.strip_headers)
      if (n.size() < 64) strip_lengths |= std::uint64_t{1} << n.size();
  forwarding out;
  boost::container::small_vector<std::string_view, 2> forwarded_values;
  for (const auto& f : req) {
    const auto id = f.name();
    const std::string_view name = f.name_string();
    if (is_hop_by_hop(id) || id == http::field::expect || id == http::field::content_length ||
        id == http::field::transfer_encoding)
      continue;
    if (websocket && (id == http::field::sec_websocket_key ||
                      id == http::field::sec_websocket_version ||
                      id == http::field::sec_websocket_extensions))
      continue;
    if (id == http::field::unknown) {
      if (beast::iequals(name, "X-Forwarded-For")) {
        if (peer_trusted) out.chain.push_back(f.value());
        continue;
      }
      if (beast::iequals(name, "X-Forwarded-Proto")) {
        if (peer_trusted) out.proto = f.value();
        continue;
      }
      if (beast::iequals(name, "X-Request-Id") || beast::iequals(name, "X-Real-IP")) continue;
    } else if (id == http::field::forwarded && peer_trusted) {
      forwarded_values.push_back(f.value());
    } else if (id == http::field::host) {
      out.host = f.value();
      if (websocket) continue;
    }
    if (!peer_trusted && in_strip_list(name, ip_cfg.strip_headers, strip_lengths)) continue;
    if (!named.empty() && is_named(named, name)) continue;
    emit(name, std::string_view(f.value()));
  }
  // The client came from Forwarded (no X-Forwarded-For): the chain the upstream reads says so.
  if (out.chain.empty() && !forwarded_values.empty()) {
    for (std::string_view v : forwarded_values) {
      while (!v.empty()) {
        const auto comma = v.find(',');
        if (const auto a = routing::parse_forwarded_element(v.substr(0, comma))) {
          if (!out.chain_from_forwarded.empty()) out.chain_from_forwarded += ", ";
          out.chain_from_forwarded += a->to_string();
        }
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
      }
    }
    if (!out.chain_from_forwarded.empty()) out.chain.push_back(out.chain_from_forwarded);
  }
  return out;
}

// The X-Forwarded-For value: a trusted proxy's chain with the peer added, else just the peer.
void append_forwarded_for(head_writer& out, const forwarding& f, std::string_view peer) {
  for (const auto v : f.chain) {
    out.put(v);
    out.put(", "sv);
  }
  out.put(peer);
}

std::string_view forwarded_proto(const forwarding& f) {
  return f.proto.empty() ? std::string_view("http") : f.proto;
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > max_request_id) return false;
  for (const char c : id)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

request_exchange::request_exchange(downstream_session& session,
                                   std::shared_ptr<const proxy_snapshot> snap,
                                   request_parser& parser)
    : session_(session),
      snap_(std::move(snap)),
      cfg_(snap_->cfg()),
      parser_(parser),
      start_(std::chrono::steady_clock::now()),
      adm_(session.admission_),
      request_id_(session.request_id_) {
  if (auto* m = snap_->metrics()) m->worker(session_.owner_.index()).in_flight.add(1);
}

request_exchange::~request_exchange() {
  if (holds_in_flight_) session_.owner_.shared().limiter().release(*route_, adm_.keys);
  const auto now = std::chrono::steady_clock::now();
  record_metrics(now);
  auto& log = session_.owner_.access_log();
  if (!log.enabled()) return;
  static constexpr std::string_view names[] = {"allowed", "limited", "exempt", "error", "shadow"};
  access_record r;
  r.client = client_text_.empty() ? std::string_view(session_.peer_text_) : client_text_;
  r.method = parser_.get().method_string();
  r.path = parser_.get().target();
  r.route = route_ ? std::string_view(route_->name) : std::string_view("-");
  r.decision = names[static_cast<int>(outcome_)];
  r.request_id = request_id_;
  r.status = status_;
  r.upstream_ms = upstream_start_ == std::chrono::steady_clock::time_point{}
                      ? -1
                      : ms_between(upstream_start_, upstream_end_ == std::chrono::steady_clock::time_point{}
                                                        ? std::chrono::steady_clock::now()
                                                        : upstream_end_);
  r.total_ms = ms_between(start_, now);
  log.append(r);
}

void request_exchange::record_metrics(std::chrono::steady_clock::time_point now) const {
  auto* m = snap_->metrics();
  if (m == nullptr) return;
  const unsigned w = session_.owner_.index();
  if (upgraded_at_ != std::chrono::steady_clock::time_point{}) now = upgraded_at_;
  else m->worker(w).in_flight.add(-1);  // an upgraded request left the count at its 101
  auto* series = route_ ? snap_->route_metrics(*route_) : &m->unrouted();
  auto& cells = series->cells(w);
  static constexpr metrics::decision decisions[] = {metrics::decision::allowed,
                                                    metrics::decision::limited,
                                                    metrics::decision::exempt,
                                                    metrics::decision::error,
                                                    metrics::decision::shadow};
  const auto method = parser_.get().method();
  const bool read = method == http::verb::get || method == http::verb::head ||
                    method == http::verb::options;
  cells.requests[static_cast<std::size_t>(read ? metrics::method_class::read
                                               : metrics::method_class::write)]
                [static_cast<std::size_t>(decisions[static_cast<int>(outcome_)])]
                    .add();
  cells.response(status_);
  cells.request_duration.observe(std::chrono::duration_cast<std::chrono::nanoseconds>(now - start_).count());
  if (upstream_start_ != std::chrono::steady_clock::time_point{}) {
    const auto end = upstream_end_ == std::chrono::steady_clock::time_point{} || upstream_end_ > now
                         ? now
                         : upstream_end_;
    cells.upstream_duration.observe(
        std::chrono::duration_cast<std::chrono::nanoseconds>(end - upstream_start_).count());
  }
  if (outcome_ == outcome::limited || outcome_ == outcome::shadow) {
    for (std::size_t i = 0; i < decision_.verdicts.size(); ++i)
      if (!decision_.verdicts[i].allowed) snap_->limit_metrics(*route_, i).hit(w);
  }
}

std::string request_exchange::upstream_target() const {
  std::string t(adm_.target.path);
  t.append(adm_.target.query);
  return t;
}

char* request_exchange::body_buffer() {
  // One buffer per connection, made on first use and never zero-filled: it is only ever
  // written before it is read.
  auto& buf = session_.body_buffer_;
  if (!buf) buf = std::make_unique_for_overwrite<char[]>(body_chunk);
  return buf.get();
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
  if (!adm_.ok()) {
    outcome_ = outcome::error;  // run() answers 400
    return;
  }
  route_ = adm_.route;
  if (!(adm_.client == session_.peer_)) client_text_ = adm_.client.to_string();
  if (adm_.exempt) {
    outcome_ = outcome::exempt;
    return;
  }
  outcome_ = outcome::allowed;
  if (route_->limits.empty()) return;
  decision_ = session_.owner_.shared().limiter().acquire(*route_, adm_.keys,
                                                        limiter::steady_clock_source::now());
  decided_ = true;
  if (!decision_.allowed()) {
    outcome_ = outcome::limited;
    return;
  }
  if (decision_.shadow_refused) outcome_ = outcome::shadow;  // forwarded all the same
  for (const auto& l : route_->limits)
    if (l.max_in_flight > 0) holds_in_flight_ = true;
}

task<bool> request_exchange::run() {
  auto& req = parser_.get();
  version_ = req.version();
  client_keep_alive_ = parser_.keep_alive() && !session_.owner_.stopping();
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
      co_return co_await respond_error(http::status::bad_request,
                                       "both Transfer-Encoding and Content-Length");
    }
    std::string_view value = te_value;
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (te > 1 || !beast::iequals(value, "chunked")) {
      co_return co_await respond_error(http::status::not_implemented,
                                       "unsupported Transfer-Encoding (only chunked)");
    }
  }

  // A reverse proxy opens no tunnels: CONNECT has no path to route or limit.
  if (req.method() == http::verb::connect) {
    local_response r;
    r.status = http::status::method_not_allowed;
    r.body = json_error("CONNECT is not supported", {{"request_id", request_id_}});
    outcome_ = outcome::error;
    co_return co_await answer(r);
  }

  decide();
  if (!adm_.ok()) co_return co_await respond_error(http::status::bad_request, adm_.message());
  if (outcome_ == outcome::limited) co_return co_await respond_limited();
  if (route_->websocket && wants_websocket()) co_return co_await upgrade();
  const bool keep_alive = co_await forward();
  if (forward_error_ != http::status::unknown)
    co_return co_await respond_error(forward_error_, forward_error_message_);
  co_return keep_alive;
}

bool request_exchange::fail_forward(http::status status, std::string_view message) {
  forward_error_ = status;
  forward_error_message_ = message;
  return false;
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
  status_ = static_cast<unsigned>(r.status);
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
  // After a request sluice could not frame, the rest of the stream cannot be trusted either.
  r.keep_alive = status != http::status::bad_request && status != http::status::not_implemented;
  r.body = json_error(message, {{"request_id", request_id_}});
  co_return co_await answer(r);
}

// The upstream's head, built in one pass over the parsed fields (editing Beast's field map
// instead costs a tree update and an allocation per field touched, on every request).
void request_exchange::build_upstream_head(body_framing framing, std::string& out) const {
  const auto& req = parser_.get();
  const std::string_view client_text =
      client_text_.empty() ? std::string_view(session_.peer_text_) : std::string_view(client_text_);
  std::size_t estimate = 180 + adm_.target.path.size() + adm_.target.query.size() +
                         request_id_.size() + cfg_.upstream.address.host.size() +
                         session_.peer_text_.size() + client_text.size();
  for (const auto& f : req) estimate += f.name_string().size() + f.value().size() + 4;
  head_writer w(out, estimate);
  // The canonical target that was judged, never the client's spelling of it.
  w.put(adm_.method);
  w.put(' ');
  w.put(adm_.target.path);
  w.put(adm_.target.query);
  w.put(" HTTP/1.1\r\n"sv);
  const forwarding fwd =
      end_to_end_fields(req, adm_, cfg_.client_ip, false,
                        [&w](std::string_view name, std::string_view value) { w.field(name, value); });
  w.field("X-Real-IP", client_text);
  w.put("X-Forwarded-For: "sv);
  append_forwarded_for(w, fwd, session_.peer_text_);
  w.put("\r\n"sv);
  w.field("X-Forwarded-Proto", forwarded_proto(fwd));
  w.field("X-Request-Id", request_id_);
  if (framing == body_framing::chunked) {
    w.put("Transfer-Encoding: chunked\r\n"sv);
  } else if (const auto length = parser_.content_length()) {
    w.put("Content-Length: "sv);
    w.number(*length);
    w.put("\r\n"sv);
  }
  if (fwd.host.empty()) {
    w.put("Host: "sv);
    w.put(cfg_.upstream.address.host);
    w.put(':');
    w.number(cfg_.upstream.address.port);
    w.put("\r\n"sv);
  }
  w.put("\r\n"sv);
}

// The client's head: the upstream's status and fields less hop-by-hop ones, framed for the
// client's HTTP version, with sluice's own fields added.
void request_exchange::build_client_head(const http1::response_parser& res, bool keep_alive,
                                         bool drop_transfer_encoding, std::string& out) const {
  const auto reason = res.reason().empty() ? std::string_view(http::obsolete_reason(
                                                 static_cast<http::status>(res.result_int())))
                                           : res.reason();
  std::size_t estimate = 64 + reason.size() + request_id_.size();
  for (const auto& f : res.fields()) estimate += f.name_string().size() + f.value().size() + 4;
  if (decided_)
    estimate += snap_->policy_lines(*route_).size() +
                ratelimit_field_estimate(snap_->quoted_names(*route_));
  head_writer w(out, estimate);
  w.put(version_ == 10 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv);
  w.number(res.result_int());
  w.put(' ');
  w.put(reason);
  w.put("\r\n"sv);
  const name_list named = connection_named(res.fields());
  for (const auto& f : res.fields()) {
    const auto id = f.name();
    if (is_hop_by_hop(id)) continue;
    if (id == http::field::transfer_encoding && drop_transfer_encoding) continue;
    if (f.is_request_id) continue;
    const std::string_view name = f.name_string();
    if (!named.empty() && is_named(named, name)) continue;
    w.field(name, f.value());
  }
  if (version_ == 10 && keep_alive) w.put("Connection: keep-alive\r\n"sv);
  if (version_ != 10 && !keep_alive) w.put("Connection: close\r\n"sv);
  append_rate_limit_fields(w);
  w.field("X-Request-Id", request_id_);
  w.put("\r\n"sv);
}

// Its frame is allocated per request and stays under Asio's 1020-byte limit for recycled blocks
// (992 bytes with GCC 12): large state lives in the exchange, errors are answered by run(). A
// frame over the limit costs a malloc and a free per request (bench/profile.sh shows them).
task<bool> request_exchange::forward() {
  auto& req = parser_.get();
  auto& client = session_.socket_;
  auto& client_dl = session_.dl_;
  auto& pool = session_.owner_.pool();
  const auto& up = cfg_.upstream;
  const auto body_timeout = cfg_.timeouts.body;

  // The decision is made; now the client may send its body. Expect is hop-by-hop for us.
  if (beast::iequals(expect_, "100-continue")) {
    if (!parser_.is_done()) {
      client_dl.expires_after(body_timeout);
      auto [ec, n] = co_await asio::async_write(client, asio::buffer(continue_100), nothrow);
      if (ec) co_return false;
    }
  }
  const bool bodyless = parser_.is_done();
  const body_framing request_framing = bodyless        ? body_framing::none
                                       : parser_.chunked() ? body_framing::chunked
                                                       : body_framing::raw;
  std::string& head = session_.head_buffer_;
  head.clear();
  build_upstream_head(request_framing, head);
  char* const buf = body_buffer();

  // Up to a buffer's worth of body (all of it, for most requests) is read before an upstream
  // connection is taken: a client that trickles its body holds only its own connection, never
  // one of the upstream's.
  std::size_t pending = 0;
  bool last = bodyless;
  auto read_piece = [&](std::size_t offset) -> task<bool> {
    auto [ec, n] = co_await read_body_piece(client, session_.buffer_, parser_, buf + offset,
                                            body_chunk - offset, client_dl, body_timeout);
    if (ec == http::error::body_limit) {
      upstream_end_ = std::chrono::steady_clock::now();
      local_response r;
      r.status = http::status::payload_too_large;
      r.body = json_error("request body too large",
                          {{"limit_bytes", std::to_string(cfg_.caps.max_body_bytes)}});
      outcome_ = outcome::error;
      co_await answer(r);
      co_return false;
    }
    if (ec) {
      outcome_ = outcome::error;
      status_ = 499;  // client went away, stalled or sent a broken body (NGINX's code for it)
      co_return false;
    }
    pending = offset + n;
    last = parser_.is_done();
    co_return true;
  };
  while (!last && pending < body_chunk) {
    if (!co_await read_piece(pending)) co_return false;
  }
  // From here the client waits for us: its deadline applies again when we write to it.
  client_dl.expires_never();
  upstream_start_ = std::chrono::steady_clock::now();

  std::unique_ptr<upstream_connection> conn;
  // While a connection is in use, the session knows its socket (abort() closes it too); the
  // guard forgets it on every way out, before `conn` itself goes.
  struct upstream_watch {
    downstream_session& session;
    ~upstream_watch() { session.upstream_socket_ = nullptr; }
  } watch{session_};
  auto& rp = response_;
  // A pooled connection the upstream closed in the meantime fails on first use. An idempotent
  // request without a body is retried once on a fresh connection; anything else could run
  // twice, unless the connection refused the request's first bytes (reset or closed before we
  // wrote: the upstream cannot have seen any of it, and the body's first piece is still here).
  const bool idempotent = req.method() == http::verb::get || req.method() == http::verb::head ||
                          req.method() == http::verb::options || req.method() == http::verb::put ||
                          req.method() == http::verb::delete_ || req.method() == http::verb::trace;
  for (int attempt = 0;; ++attempt) {
    connect_failure failure = connect_failure::none;
    conn = pool.take_idle(up);
    if (!conn) conn = co_await pool.connect(up, body_timeout, failure);
    if (!conn) {
      upstream_end_ = std::chrono::steady_clock::now();
      if (auto* m = snap_->metrics()) m->worker(session_.owner_.index()).upstream_connect_errors.add();
      if (failure == connect_failure::timeout)
        co_return fail_forward(http::status::gateway_timeout, "upstream connect timeout");
      co_return fail_forward(http::status::bad_gateway, "upstream unavailable");
    }
    const bool may_retry = conn->reused && bodyless && idempotent && attempt == 0;
    session_.upstream_socket_ = &conn->socket;  // abort() at the drain deadline closes it too

    // Request: the head goes out with the first body piece; then piece by piece.
    bool upstream_failed = false;
    bool refused = false;
    bool first = true;
    for (;;) {
      const auto ec = co_await write_piece(conn->socket, conn->dl, body_timeout,
                                           first ? std::string_view(head) : std::string_view{},
                                           request_framing, buf, pending, last,
                                           first ? &refused : nullptr);
      first = false;
      if (ec) {
        upstream_failed = true;
        break;
      }
      if (last) break;
      if (!co_await read_piece(0)) {
        session_.upstream_socket_ = nullptr;
        co_return false;  // the upstream got half a body: that connection is dropped too
      }
    }

    if (!upstream_failed) {
      // Interim 1xx answers are not the response: read past a few (each head stays in the
      // arena until the request ends). A pooled connection's first bytes come from the read it
      // had standing in the pool, under the same deadline as the rest of that head.
      bool armed = false;
      if (conn->standing_read_pending()) {
        conn->dl.expires_after(up.response_timeout);
        armed = true;
        co_await conn->wait_standing_read();
      }
      boost::system::error_code first_ec = conn->take_standing_read();
      std::string malformed;  // why the response is refused, when it is
      for (int interim = 0;; ++interim) {
        rp.emplace(session_.arena_);
        rp->header_limit(upstream_header_limit);
        if (is_head_) rp->skip(true);
        auto ec = std::exchange(first_ec, boost::system::error_code{});
        if (!ec)
          ec = co_await read_header(conn->socket, conn->buffer, *rp, conn->dl, up.response_timeout,
                                    !armed);
        armed = false;
        if (ec == beast::error::timeout) {
          if (auto* m = snap_->metrics()) m->worker(session_.owner_.index()).upstream_timeouts.add();
          session_.upstream_socket_ = nullptr;
          upstream_end_ = std::chrono::steady_clock::now();
          co_return fail_forward(http::status::gateway_timeout, "upstream timeout");
        }
        // A closed or reset pooled connection is worth one more try; a response that breaks
        // HTTP's framing rules is not (the same upstream would send it again).
        if (ec && ec.category() == http::make_error_code(http::error::bad_version).category() &&
            ec != http::error::end_of_stream && ec != http::error::partial_message) {
          malformed = ec.message();
          break;
        }
        if (ec) {
          upstream_failed = true;
          break;
        }
        const unsigned code = rp->result_int();
        if (code == 101) {
          malformed = "101 Switching Protocols to a request that asked for no upgrade";
          break;
        }
        if (code >= 200) break;
        if (interim == max_interim_responses) {
          malformed = "too many interim (1xx) responses";
          break;
        }
      }
      if (!malformed.empty()) {
        log_event(log_level::warn, "upstream sent a malformed response (" + malformed +
                                       "), request " + request_id_);
        session_.upstream_socket_ = nullptr;
        upstream_end_ = std::chrono::steady_clock::now();
        co_return fail_forward(http::status::bad_gateway, "upstream sent a malformed response");
      }
    }
    if (!upstream_failed) break;
    session_.upstream_socket_ = nullptr;
    if (!may_retry && !(refused && conn->reused && attempt == 0)) {
      upstream_end_ = std::chrono::steady_clock::now();
      co_return fail_forward(http::status::bad_gateway, "upstream closed the connection");
    }
  }

  // Relay the response: head adjusted, body streamed through the same fixed buffer.
  const auto& res = *rp;
  // The parser's view, not the message's: a body that ends at EOF means no keep-alive either.
  const bool upstream_keep_alive = rp->keep_alive();
  bool keep_alive = client_keep_alive_ && !session_.owner_.stopping();
  status_ = res.result_int();
  const bool header_only = is_head_ || status_ == 204 || status_ == 304;
  body_framing framing = body_framing::raw;
  bool drop_transfer_encoding = false;
  if (header_only) {
    framing = body_framing::none;
  } else if (rp->chunked()) {
    if (version_ < 11) {
      // HTTP/1.0 has no chunked coding: send the body raw and end it by closing.
      drop_transfer_encoding = true;
      keep_alive = false;
    } else {
      framing = body_framing::chunked;
    }
  } else if (!rp->content_length()) {
    keep_alive = false;  // the body ends when the upstream closes; so must ours
  }
  head.clear();
  build_client_head(res, keep_alive, drop_transfer_encoding, head);

  bool first = true;
  last = header_only;
  do {
    std::size_t got = 0;
    if (!header_only) {
      auto [ec, n] = co_await read_body_piece(conn->socket, conn->buffer, *rp, buf, body_chunk,
                                              conn->dl, up.response_timeout);
      if (ec) {
        upstream_end_ = std::chrono::steady_clock::now();
        if (ec == beast::error::timeout) {
          if (auto* m = snap_->metrics()) m->worker(session_.owner_.index()).upstream_timeouts.add();
        }
        if (first) {
          co_return fail_forward(ec == beast::error::timeout ? http::status::gateway_timeout
                                                             : http::status::bad_gateway,
                                 "upstream failed mid-response");
        }
        // Headers are out already: the only honest signal left is to cut the connection.
        log_event(log_level::warn, "upstream failed mid-response (" + ec.message() +
                                       "), request " + request_id_);
        co_return false;
      }
      got = n;
      last = rp->is_done();
    }
    const auto ec = co_await write_piece(client, client_dl, body_timeout,
                                         first ? std::string_view(head) : std::string_view{},
                                         framing, buf, got, last);
    first = false;
    if (ec) {
      upstream_end_ = std::chrono::steady_clock::now();
      co_return false;  // client gone; the upstream connection is dropped with the half-read body
    }
  } while (!last);
  upstream_end_ = std::chrono::steady_clock::now();
  if (upstream_keep_alive && rp->is_done() && !session_.owner_.stopping())
    pool.release(std::move(conn), up);
  co_return keep_alive;
}

}  // namespace sluice::net

namespace sluice::net {

// An upgrade to WebSocket, as opposed to any other protocol (h2c and the like are not relayed:
// their Upgrade is stripped like any hop-by-hop field).
bool request_exchange::wants_websocket() const {
  const auto& req = parser_.get();
  if (!beast::iequals(req[http::field::upgrade], "websocket")) return false;
  for (const auto token : http::token_list{req[http::field::connection]})
    if (beast::iequals(std::string_view(token.data(), token.size()), "upgrade")) return true;
  return false;
}

task<bool> request_exchange::upgrade() {
  auto& req = parser_.get();
  const auto& ws = *route_->websocket;
  auto& shared = session_.owner_.shared();
  const auto& up = cfg_.upstream;

  if (req.method() != http::verb::get || req.version() != 11 ||
      req[http::field::sec_websocket_key].empty() || !parser_.is_done()) {
    co_return co_await respond_error(http::status::bad_request,
                                     "malformed WebSocket upgrade (RFC 6455 4.1: GET, HTTP/1.1, "
                                     "Sec-WebSocket-Key, no body)");
  }
  if (req[http::field::sec_websocket_version] != "13") {
    local_response r;
    r.status = http::status::upgrade_required;
    r.body = json_error("unsupported WebSocket version (only 13)", {{"request_id", request_id_}});
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    co_return co_await answer(r);
  }

  // The connection caps, after the route's rate limits have counted the handshake.
  const ip_address key_addr = adm_.key_address;
  const limiter::websocket_caps caps{ws.max_connections_per_ip, ws.max_connections,
                                     cfg_.caps.max_websockets};
  const auto refused = shared.websocket_slots().acquire(route_->name, key_addr, caps);
  if (refused != limiter::websocket_refusal::none) {
    const bool global = refused == limiter::websocket_refusal::global;
    metrics::websocket_refusal reason = metrics::websocket_refusal::global;
    std::string limit = "caps.max_websockets " + std::to_string(cfg_.caps.max_websockets);
    if (refused == limiter::websocket_refusal::per_ip) {
      reason = metrics::websocket_refusal::per_ip;
      limit = "websocket.max_connections_per_ip " + std::to_string(ws.max_connections_per_ip);
    } else if (refused == limiter::websocket_refusal::per_route) {
      reason = metrics::websocket_refusal::per_route;
      limit = "websocket.max_connections " + std::to_string(ws.max_connections);
    }
    if (auto* s = snap_->route_metrics(*route_))
      s->cells(session_.owner_.index()).websocket_refused[static_cast<std::size_t>(reason)].add();
    outcome_ = outcome::limited;
    co_return co_await respond_refused(
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
  } slot{shared.websocket_slots(), route_->name, key_addr};

  // The upgrade goes to the upstream first: the client is answered 101 only once the upstream
  // has said yes (and with the subprotocol it chose).
  upstream_start_ = std::chrono::steady_clock::now();
  connect_failure failure = connect_failure::none;
  auto conn = session_.owner_.pool().take_idle(up);
  if (!conn) conn = co_await session_.owner_.pool().connect(up, cfg_.timeouts.body, failure);
  if (!conn) {
    upstream_end_ = std::chrono::steady_clock::now();
    slot.release();
    if (auto* m = snap_->metrics()) m->worker(session_.owner_.index()).upstream_connect_errors.add();
    if (failure == connect_failure::timeout)
      co_return co_await respond_error(http::status::gateway_timeout, "upstream connect timeout");
    co_return co_await respond_error(http::status::bad_gateway, "upstream unavailable");
  }
  conn->drop_standing_read();  // the WebSocket's streams read this socket from now on
  conn->dl.cancel();
  message_limit ml;
  if (const config::route* mr = snap_->message_route(*route_)) {
    ml.lim = &shared.limiter();
    ml.route = mr;
    ml.key.limit_id = mr->limits.front().id;
    ml.key.value = key_addr.bytes;
    ml.action = ws.on_message_limit;
  }
  websocket_relay relay(std::move(conn->socket), ws, ml, up.response_timeout);
  struct relay_watch {
    downstream_session& session;
    ~relay_watch() { session.relay_ = nullptr; }
  } watch{session_};
  session_.relay_ = &relay;

  // End-to-end fields of the client's request, with sluice's forwarding fields.
  field_list fields;
  const forwarding fwd = end_to_end_fields(
      req, adm_, cfg_.client_ip, true, [&fields](std::string_view name, std::string_view value) {
        fields.emplace_back(std::string(name), std::string(value));
      });
  std::string forwarded_for;
  {
    head_writer w(forwarded_for, 64);
    append_forwarded_for(w, fwd, session_.peer_text_);
  }
  fields.emplace_back("X-Forwarded-For", std::move(forwarded_for));
  fields.emplace_back("X-Forwarded-Proto", std::string(forwarded_proto(fwd)));
  fields.emplace_back("X-Real-IP", client_text_.empty() ? session_.peer_text_ : client_text_);
  fields.emplace_back("X-Request-Id", request_id_);
  std::string host = fwd.host.empty()
                         ? up.address.host + ":" + std::to_string(up.address.port)
                         : std::string(fwd.host);

  upstream_upgrade answer_up = co_await relay.open_upstream(host, upstream_target(), fields);
  if (!answer_up.upgraded) {
    upstream_end_ = std::chrono::steady_clock::now();
    slot.release();
    if (answer_up.timed_out) {
      if (auto* m = snap_->metrics()) m->worker(session_.owner_.index()).upstream_timeouts.add();
      co_return co_await respond_error(http::status::gateway_timeout,
                                       "upstream did not answer the WebSocket upgrade in time");
    }
    if (answer_up.failed || answer_up.status == 0) {
      co_return co_await respond_error(http::status::bad_gateway,
                                       "upstream failed the WebSocket upgrade");
    }
    // The upstream said no (401, 404, ...): the client hears exactly that.
    local_response r;
    r.keep_alive = true;
    r.status = static_cast<http::status>(answer_up.status);
    r.body = std::move(answer_up.body);
    std::vector<std::pair<std::string, std::string>> kept;
    for (auto& [name, value] : answer_up.fields) {
      if (beast::iequals(name, "X-Request-Id") || beast::iequals(name, "Content-Type")) continue;
      kept.emplace_back(std::move(name), std::move(value));
    }
    // local_response takes views: they point into `kept`, which outlives the write.
    for (const auto& [name, value] : kept) r.headers.emplace_back(name, value);
    co_return co_await answer(r);
  }

  // The client's side of the handshake: 101 with what the upstream agreed to.
  field_list client_fields;
  for (const auto& f : req)
    client_fields.emplace_back(std::string(f.name_string()), std::string(f.value()));
  field_list response_fields;
  for (auto& [name, value] : answer_up.fields) {
    if (beast::iequals(name, "X-Request-Id")) continue;
    response_fields.emplace_back(std::move(name), std::move(value));
  }
  response_fields.emplace_back("X-Request-Id", request_id_);
  if (decided_) {
    const std::string& policy = snap_->policy_header(*route_);
    if (!policy.empty()) {
      response_fields.emplace_back("RateLimit-Policy", policy);
      std::string value;
      append_ratelimit_field(*route_, snap_->quoted_names(*route_), decision_, value);
      response_fields.emplace_back("RateLimit", value);
    }
  }
  session_.dl_.cancel();
  status_ = 101;
  const bool accepted = co_await relay.accept_client(std::move(session_.socket_),
                                                     std::string(req.target()),
                                                     std::move(client_fields),
                                                     std::move(response_fields));
  if (!accepted) {
    status_ = 499;
    co_return false;
  }
  upgraded_at_ = std::chrono::steady_clock::now();
  if (auto* m = snap_->metrics()) m->worker(session_.owner_.index()).in_flight.add(-1);
  const std::string how = co_await relay.run();
  upstream_end_ = std::chrono::steady_clock::now();
  log_event(log_level::info, "websocket " + request_id_ + " on " + route_->name + ": " + how);
  co_return false;  // the connection was the WebSocket's; it is closed now
}

}  // namespace sluice::net
