#include "net/forwarding_head.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/container/small_vector.hpp>

#include "routing/client_ip.hpp"

namespace sluice::net {
namespace beast = boost::beast;
namespace http = beast::http;

using namespace std::string_view_literals;

namespace {

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

// `lengths`: bit n set when the list has a name of n characters, so most fields are passed over
// with one test.
bool in_strip_list(std::string_view name, const std::vector<std::string>& list,
                   std::uint64_t lengths) {
  if (name.size() < 64 && ((lengths >> name.size()) & 1) == 0) return false;
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
                             const config::client_ip_settings& ip_cfg,
                             std::uint64_t strip_header_lengths, bool websocket, Emit&& emit) {
  const name_list named = connection_named(req);
  const bool peer_trusted = adm.peer_trusted;
  const std::uint64_t strip_lengths = peer_trusted ? 0 : strip_header_lengths;
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

}  // namespace

void write_upstream_head(const request_message& req, const forwarding_context& ctx,
                         body_framing framing, boost::optional<std::uint64_t> content_length,
                         std::string& out) {
  const auto& adm = ctx.adm;
  const auto& up = ctx.cfg.upstream.address;
  std::size_t estimate = 180 + adm.target.path.size() + adm.target.query.size() +
                         ctx.request_id.size() + up.host.size() + ctx.peer_text.size() +
                         ctx.client_text.size();
  for (const auto& f : req) estimate += f.name_string().size() + f.value().size() + 4;
  head_writer w(out, estimate);
  // The canonical target that was judged, never the client's spelling of it.
  w.put(adm.method);
  w.put(' ');
  w.put(adm.target.path);
  w.put(adm.target.query);
  w.put(" HTTP/1.1\r\n"sv);
  const forwarding fwd =
      end_to_end_fields(req, adm, ctx.cfg.client_ip, ctx.strip_header_lengths, false,
                        [&w](std::string_view name, std::string_view value) { w.field(name, value); });
  w.put("X-Forwarded-For: "sv);
  append_forwarded_for(w, fwd, ctx.peer_text);
  w.put("\r\n"sv);
  w.field("X-Forwarded-Proto", forwarded_proto(fwd));
  w.field("X-Real-IP", ctx.client_text);
  w.field("X-Request-Id", ctx.request_id);
  if (framing == body_framing::chunked) {
    w.put("Transfer-Encoding: chunked\r\n"sv);
  } else if (content_length) {
    w.put("Content-Length: "sv);
    w.number(*content_length);
    w.put("\r\n"sv);
  }
  if (fwd.host.empty()) {
    w.put("Host: "sv);
    w.put(up.host);
    w.put(':');
    w.number(up.port);
    w.put("\r\n"sv);
  }
  w.put("\r\n"sv);
}

void write_response_fields(const http1::response_parser& res, bool drop_transfer_encoding,
                           head_writer& w) {
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
}

field_list websocket_request_fields(const request_message& req, const forwarding_context& ctx,
                                    std::string& host) {
  field_list fields;
  const forwarding fwd = end_to_end_fields(
      req, ctx.adm, ctx.cfg.client_ip, ctx.strip_header_lengths, true, [&fields](std::string_view name, std::string_view value) {
        fields.emplace_back(std::string(name), std::string(value));
      });
  std::string forwarded_for;
  {
    head_writer w(forwarded_for, 64);
    append_forwarded_for(w, fwd, ctx.peer_text);
  }
  fields.emplace_back("X-Forwarded-For", std::move(forwarded_for));
  fields.emplace_back("X-Forwarded-Proto", std::string(forwarded_proto(fwd)));
  fields.emplace_back("X-Real-IP", std::string(ctx.client_text));
  fields.emplace_back("X-Request-Id", std::string(ctx.request_id));
  const auto& up = ctx.cfg.upstream.address;
  host = fwd.host.empty() ? up.host + ":" + std::to_string(up.port) : std::string(fwd.host);
  return fields;
}

}  // namespace sluice::net
