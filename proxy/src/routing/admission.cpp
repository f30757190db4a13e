#include "routing/admission.hpp"

#include <array>
#include <utility>

#include "routing/client_ip.hpp"

namespace sluice::routing {
namespace {

using namespace std::string_view_literals;

constexpr std::array<std::pair<request_problem, std::string_view>,
                     static_cast<std::size_t>(request_problem::count_)>
    messages{{
        {request_problem::none, ""},
        {request_problem::target, "the request target has no canonical form"},
        {request_problem::asterisk, "the request target \"*\" is only for OPTIONS"},
        {request_problem::host_missing, "an HTTP/1.1 request needs a Host field"},
        {request_problem::host_repeated, "more than one Host field"},
        {request_problem::host_invalid, "the Host field is not host[:port]"},
        {request_problem::host_mismatch, "the absolute-form target names another host than Host"},
        {request_problem::connection_framing,
         "Connection names a field the request's framing or routing depends on (Host, "
         "Content-Length, Transfer-Encoding)"},
        {request_problem::key_repeated,
         "a field a limit counts by is sent more than once with different values"},
    }};

constexpr bool messages_in_order() {
  for (std::size_t i = 0; i < messages.size(); ++i)
    if (static_cast<std::size_t>(messages[i].first) != i) return false;
  return true;
}
static_assert(messages_in_order(), "messages must list request_problem in declaration order");

// Backends that honour one of these run the handler of the method it names, whatever the
// request line says; a route listing that method must count the request too.
constexpr std::array<std::string_view, 3> method_override_fields{
    "x-http-method-override", "x-http-method", "x-method-override"};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x | 0x20);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y | 0x20);
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 3986 reg-name characters: unreserved, sub-delims and "%" of pct-encoded. A table: the
// Host of every request is checked.
constexpr std::array<bool, 256> reg_name_chars = [] {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (const char c : "-._~!$&'()*+,;=%"sv) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool is_reg_name_char(char c) { return reg_name_chars[static_cast<unsigned char>(c)]; }

// Host = uri-host [ ":" port ] (RFC 9110 7.2); empty is allowed (a target without authority).
bool valid_host(std::string_view h) {
  std::string_view port;
  if (!h.empty() && h.front() == '[') {
    const auto close = h.find(']');
    if (close == std::string_view::npos || close < 2) return false;
    for (const char c : h.substr(1, close - 1))
      if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
        return false;
    const std::string_view rest = h.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
  } else {
    const auto colon = h.find(':');
    const std::string_view name = h.substr(0, colon);
    for (const char c : name)
      if (!is_reg_name_char(c)) return false;
    if (colon != std::string_view::npos) {
      if (name.empty()) return false;
      port = h.substr(colon + 1);
    }
  }
  if (port.size() > 5) return false;
  for (const char c : port)
    if (!is_digit(c)) return false;
  return true;
}

// True when a Connection value names a field that framing or routing reads: a proxy that
// honoured it would forward the request without that field, so the upstream would frame or
// route it differently from what was judged.
bool names_framing_field(std::string_view value) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    const std::string_view token = trim(value.substr(0, comma));
    if (iequals(token, "host") || iequals(token, "content-length") ||
        iequals(token, "transfer-encoding"))
      return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

bool has_lower(std::string_view s) {
  for (const char c : s)
    if (c >= 'a' && c <= 'z') return true;
  return false;
}

void append_upper(std::string& out, std::string_view s) {
  for (const char c : s) out.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
}

}  // namespace

std::string_view describe(request_problem p) { return messages[static_cast<std::size_t>(p)].second; }

void decide(const request_view& req, const config::config& cfg, const route_table& routes,
            admission& out) {
  out.problem = request_problem::none;
  out.target = {};
  out.host = {};
  out.route = nullptr;
  out.client = req.peer;
  out.peer_trusted = false;
  out.allowlisted = false;
  out.exempt = false;
  out.key_address = {};
  out.keys.clear();

  // Methods are case-sensitive tokens, but Flask and others upper-case them before routing;
  // judged as upper case, sent as upper case.
  out.method = req.method;
  if (has_lower(req.method)) {
    out.method_buffer.clear();
    append_upper(out.method_buffer, req.method);
    out.method = out.method_buffer;
  }

  const auto& trusted = cfg.client_ip.trusted_proxies;
  out.peer_trusted = !trusted.empty() && is_trusted_proxy(req.peer, trusted);

  // One walk over the fields for everything the decision reads.
  std::size_t hosts = 0;
  bool connection_framing = false;
  boost::container::small_vector<std::string_view, 2> xff, forwarded;
  boost::container::small_vector<std::string_view, 2> overrides;
  for (const field_view& f : req.fields) {
    const std::string_view n = f.name;
    if (n.size() == 4 && iequals(n, "host")) {
      ++hosts;
      out.host = f.value;
    } else if (n.size() == 10 && iequals(n, "connection")) {
      connection_framing = connection_framing || names_framing_field(f.value);
    } else if (out.peer_trusted && n.size() == 15 && iequals(n, "x-forwarded-for")) {
      xff.push_back(f.value);
    } else if (out.peer_trusted && n.size() == 9 && iequals(n, "forwarded")) {
      forwarded.push_back(f.value);
    } else if (n.size() >= 13 && n.size() <= 22 && (n[0] == 'x' || n[0] == 'X')) {
      for (const auto o : method_override_fields)
        if (iequals(n, o)) overrides.push_back(trim(f.value));
    }
  }

  if (connection_framing) {
    out.problem = request_problem::connection_framing;
    return;
  }
  if (hosts > 1) {
    out.problem = request_problem::host_repeated;
    return;
  }
  if (hosts == 0 && req.version >= 11) {
    out.problem = request_problem::host_missing;
    return;
  }
  if (!valid_host(out.host)) {
    out.problem = request_problem::host_invalid;
    return;
  }

  out.target = canonicalize(req.target, cfg.paths, out.scratch);
  if (out.target.problem != target_problem::none) {
    out.problem = request_problem::target;
    return;
  }
  if (out.target.path == "*" && out.method != "OPTIONS") {
    out.problem = request_problem::asterisk;
    return;
  }
  // RFC 9112 3.2.2 says a server takes absolute-form's authority over Host. The upstream gets
  // origin-form and Host, so the two must agree or the upstream could serve another host.
  if (out.target.absolute_form && !iequals(out.target.authority, out.host)) {
    out.problem = request_problem::host_mismatch;
    return;
  }

  if (out.peer_trusted) out.client = client_ip(req.peer, xff, forwarded, trusted);

  // Override values are matched upper-case too; their copies live after the method's.
  boost::container::small_vector<std::string_view, 2> also;
  if (!overrides.empty()) {
    std::string& buf = out.override_buffer;
    buf.clear();
    std::size_t total = 0;
    for (const auto o : overrides) total += o.size();
    buf.reserve(total);  // no reallocation below: the views stay valid
    for (const auto o : overrides) {
      const std::size_t at = buf.size();
      append_upper(buf, o);
      also.emplace_back(buf.data() + at, o.size());
    }
  }
  out.route = &routes.match(out.method, also, out.target.match_path);

  for (const auto& c : cfg.allowlist) {
    if (c.contains(out.client)) {
      out.allowlisted = true;
      break;
    }
  }
  out.exempt = out.route->exempt || out.allowlisted;
  out.key_address = key_address(out.client, cfg.client_ip.ipv6_prefix);
  if (out.exempt || out.route->limits.empty()) return;
  // A key field sent twice is ambiguous: sluice would count one value while the backend may
  // read the other, so a client could rotate the counted one. Twice the same value is harmless.
  bool repeated = false;
  build_keys(*out.route, out.key_address,
             [&req, &repeated](std::string_view name) -> std::string_view {
               std::string_view found;
               bool seen = false;
               for (const field_view& f : req.fields) {
                 if (!iequals(f.name, name)) continue;
                 if (seen && f.value != found) repeated = true;
                 if (!seen) found = f.value;
                 seen = true;
               }
               return found;
             },
             out.keys);
  if (repeated) {
    out.problem = request_problem::key_repeated;
    out.keys.clear();
  }
}

}  // namespace sluice::routing
