// Fuzz target: the canonical request target (routing::canonicalize) and the decision point
// (routing::decide) over two fixed configs. The input is a request written as text:
//
//   line 1   METHOD, or METHOD HTTP/1.0
//   line 2   the request target, bytes as sent
//   line 3.. header fields, "Name: value"; "X-Fuzz-Peer: ADDR" sets the socket peer instead
//
// Checked for every target under each of the twelve `paths` settings: a canonical path starts
// with "/" (or is "*"), holds only printable ASCII with upper-case escapes, has no empty, "." or
// ".." segment, no raw "\", and no escaped slash unless paths.escaped_slashes is keep; its
// match_path is the path decoded (params stripped when paths.path_params is ignore); the query
// is the target's from "?" on; canonicalising the path again gives the same path and
// match_path (what goes upstream means what was judged); and a target accepted under the
// strictest settings comes out the same under every looser one. For decide: an accepted request
// has a route and one key per limit, and the request as forwarded (method, canonical target,
// the same fields and peer) is decided the same way again.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.hpp"
#include "config/config_loader.hpp"
#include "routing/admission.hpp"
#include "routing/request_target.hpp"
#include "routing/route_table.hpp"

namespace {

using namespace sluice;
using config::backslash_action;
using config::escaped_slash_action;
using config::path_params_action;

// The defaults, and every `paths` choice turned the other way, with strict matching.
constexpr const char* strict_yaml = R"(
upstream: {address: 127.0.0.1:9000}
client_ip: {trusted_proxies: [10.0.0.0/8]}
allowlist: [192.0.2.0/24]
routes:
  - {name: health, path: /health, exempt: true}
  - {name: admin, prefix: /api/admin/, exempt: true}
  - name: stats
    path: /api/system/stats
    methods: [GET]
    limits: [{per: ip, rate: 60/minute}]
  - name: files
    glob: /api/projects/*/files/**
    limits: [{per: header X-Api-Key, rate: 2/hour}, {per: route, rate: 100/second}]
  - name: register
    path: /api/auth/register
    methods: [POST]
    limits: [{per: ip, rate: 10/minute, max_in_flight: 2}]
default:
  limits: [{per: ip, rate: 600/minute}]
)";
constexpr const char* loose_yaml = R"(
upstream: {address: 127.0.0.1:9000}
paths: {escaped_slashes: keep, backslash: slash, path_params: keep}
match: {case_sensitive: true, trailing_slash: strict}
routes:
  - {name: health, path: /health, exempt: true}
  - name: stats
    path: /api/system/stats
    methods: [GET, POST]
    limits: [{per: ip, rate: 60/minute}]
  - name: any
    glob: /**/x;y/*
    limits: [{per: route, rate: 1/second}]
)";

struct fixture {
  std::shared_ptr<const config::config> cfg;
  routing::route_table routes;
  explicit fixture(const char* yaml) : cfg(config::load_string(yaml, "fuzz.yaml")), routes(*cfg) {}
};

[[noreturn]] void fail(const char* what, std::string_view target, std::string_view detail = {}) {
  std::fprintf(stderr, "invariant broken: %s\n  target: ", what);
  std::fwrite(target.data(), 1, target.size(), stderr);
  std::fprintf(stderr, "\n  detail: ");
  std::fwrite(detail.data(), 1, detail.size(), stderr);
  std::fprintf(stderr, "\n");
  std::abort();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower case is not canonical
}

// What match_path must be for a canonical `path`: each segment decoded, params dropped when
// they are ignored, an escaped "/" or "\" kept as written (only escaped_slashes: keep lets one
// through).
std::string expected_match_path(std::string_view path, const config::path_settings& s) {
  std::string out;
  std::size_t i = 0;
  while (i < path.size()) {
    // path[i] == '/'
    out.push_back('/');
    ++i;
    std::string segment;
    while (i < path.size() && path[i] != '/') {
      if (path[i] == '%' && i + 2 < path.size()) {
        const int b = hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]);
        if (b == '/' || b == '\\') segment.append(path.substr(i, 3));
        else segment.push_back(static_cast<char>(b));
        i += 3;
      } else {
        segment.push_back(path[i++]);
      }
    }
    if (s.path_params == path_params_action::ignore) segment = segment.substr(0, segment.find(';'));
    out += segment;
  }
  return out;
}

// The shape of a canonical target (see the file comment); `target` for the report.
void check_shape(const routing::canonical_target& c, std::string_view target,
                 const config::path_settings& s) {
  const std::string_view p = c.path;
  if (p == "*") {
    if (target != "*" || c.match_path != "*") fail("\"*\" from another target", target);
    return;
  }
  if (p.empty() || p.front() != '/') fail("path does not start with /", target, p);
  for (std::size_t i = 0; i < p.size(); ++i) {
    const auto u = static_cast<unsigned char>(p[i]);
    if (u <= 0x20 || u >= 0x7f) fail("a control, space or non-ASCII byte in path", target, p);
    if (p[i] == '\\' || p[i] == '#' || p[i] == '?') fail("\\, # or ? in path", target, p);
    if (p[i] == '%') {
      if (i + 2 >= p.size() || hex_value(p[i + 1]) < 0 || hex_value(p[i + 2]) < 0)
        fail("an escape that is not %XX in upper case", target, p);
      const int b = hex_value(p[i + 1]) * 16 + hex_value(p[i + 2]);
      if ((b == '/' || b == '\\') && s.escaped_slashes != escaped_slash_action::keep)
        fail("an escaped slash let through", target, p);
    }
  }
  for (const std::string_view bad : {"//", "/./", "/../"})
    if (p.find(bad) != std::string_view::npos) fail("an empty, . or .. segment in path", target, p);
  if (p.ends_with("/.") || p.ends_with("/..")) fail("a trailing . or .. segment in path", target, p);
  for (const char ch : c.match_path) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7f) fail("a control byte in match_path", target, c.match_path);
  }
  if (c.match_path != expected_match_path(p, s)) fail("match_path is not the path decoded", target, c.match_path);
  const auto q = target.find('?');
  if (c.query != (q == std::string_view::npos ? std::string_view{} : target.substr(q)))
    fail("query is not the target's", target, c.query);
}

struct owned_target {
  routing::target_problem problem;
  std::string path, match_path, query;
  bool operator==(const owned_target&) const = default;
};

owned_target canonical(std::string_view target, const config::path_settings& s) {
  routing::target_scratch scratch;
  const auto c = routing::canonicalize(target, s, scratch);
  return {c.problem, std::string(c.path), std::string(c.match_path), std::string(c.query)};
}

void check_canonicalize(std::string_view target) {
  for (const auto pp : {path_params_action::ignore, path_params_action::keep}) {
    const owned_target strictest =
        canonical(target, {escaped_slash_action::reject, backslash_action::reject, pp});
    for (const auto e : {escaped_slash_action::reject, escaped_slash_action::decode,
                         escaped_slash_action::keep}) {
      for (const auto b : {backslash_action::reject, backslash_action::slash}) {
        const config::path_settings s{e, b, pp};
        routing::target_scratch scratch;
        const auto c = routing::canonicalize(target, s, scratch);
        const owned_target got{c.problem, std::string(c.path), std::string(c.match_path),
                               std::string(c.query)};
        // Looser settings only give a meaning to what the strictest refuse.
        if (strictest.problem == routing::target_problem::none && got != strictest)
          fail("looser settings change a target the strictest accept", target, got.path);
        if (c.problem != routing::target_problem::none) continue;
        check_shape(c, target, s);
        // Canonical twice is canonical once: forwarded, the path means what was judged.
        const owned_target again = canonical(got.path, s);
        if (again.problem != routing::target_problem::none)
          fail("the canonical path is refused when canonicalised again", target, got.path);
        if (again.path != got.path || again.match_path != got.match_path)
          fail("canonicalising the canonical path changes it", target, again.path);
      }
    }
  }
}

// The request written in the input (see the file comment).
struct request_text {
  std::string method;
  unsigned version = 11;
  std::string target;
  std::vector<std::pair<std::string, std::string>> fields;
  ip_address peer = *ip_address::parse("198.51.100.7");
};

request_text parse_input(std::string_view in) {
  request_text r;
  std::vector<std::string_view> lines;
  while (!in.empty()) {
    const auto nl = in.find('\n');
    lines.push_back(in.substr(0, nl));
    if (nl == std::string_view::npos) break;
    in.remove_prefix(nl + 1);
  }
  if (!lines.empty()) {
    std::string_view m = lines[0];
    if (m.ends_with(" HTTP/1.0")) {
      r.version = 10;
      m.remove_suffix(9);
    }
    r.method = std::string(m);
  }
  if (lines.size() > 1) r.target = std::string(lines[1]);
  for (std::size_t i = 2; i < lines.size(); ++i) {
    const auto colon = lines[i].find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = lines[i].substr(0, colon), value = lines[i].substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "X-Fuzz-Peer") {
      if (const auto a = ip_address::parse(value)) r.peer = *a;
      continue;
    }
    r.fields.emplace_back(std::string(name), std::string(value));
  }
  return r;
}

void check_decide(const fixture& f, const request_text& r) {
  std::vector<routing::field_view> fields;
  for (const auto& [n, v] : r.fields) fields.push_back({n, v});
  routing::request_view req{r.method, r.target, r.version, fields, r.peer};
  routing::admission a;
  routing::decide(req, *f.cfg, f.routes, a);
  if (!a.ok()) {
    if (a.message().empty()) fail("a refusal without a message", r.target);
    return;
  }
  if (a.route == nullptr) fail("accepted without a route", r.target);
  check_shape(a.target, r.target, f.cfg->paths);
  for (const char c : a.method)
    if (c >= 'a' && c <= 'z') fail("method not upper case", r.target, a.method);
  if (!a.exempt && !a.route->limits.empty() && a.keys.size() != a.route->limits.size())
    fail("not one key per limit", r.target);
  // The request as sluice forwards it: upper-case method, canonical origin-form target, the
  // same fields (Host included) from the same peer. It must be judged the same again.
  const std::string forwarded = std::string(a.target.path) + std::string(a.target.query);
  const std::string method(a.method);
  routing::request_view again{method, forwarded, r.version, fields, r.peer};
  routing::admission b;
  routing::decide(again, *f.cfg, f.routes, b);
  if (!b.ok()) fail("the forwarded request is refused", r.target, b.message());
  if (b.route != a.route) fail("the forwarded request meets another route", r.target, forwarded);
  if (b.target.path != a.target.path || b.target.match_path != a.target.match_path)
    fail("the forwarded request has another canonical target", r.target, b.target.path);
  if (b.exempt != a.exempt || b.keys.size() != a.keys.size())
    fail("the forwarded request is keyed differently", r.target, forwarded);
  for (std::size_t i = 0; i < a.keys.size(); ++i)
    if (!(a.keys[i] == b.keys[i])) fail("the forwarded request has another key", r.target, forwarded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fixture strict(strict_yaml);
  static const fixture loose(loose_yaml);
  const request_text r = parse_input(std::string_view(reinterpret_cast<const char*>(data), size));
  check_canonicalize(r.target);
  check_decide(strict, r);
  check_decide(loose, r);
  return 0;
}
