#include "config/config_loader.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <memory>
#include <optional>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include "common/ip_address.hpp"
#include "config/config_error.hpp"
#include "config/config_schema.hpp"
#include "config/endpoint_parser.hpp"
#include "config/http_token.hpp"
#include "config/route_loader.hpp"
#include "config/yaml_node.hpp"

namespace sluice::config {
namespace {

using namespace std::chrono_literals;

// Most workers a config may ask for: beyond this, per-worker pools and key-table shards cost
// more than they give on any machine sluice is meant for.
constexpr std::uint64_t max_workers = 256;
// Longest timeout accepted: a larger one is almost surely a unit slip (30d for 30s), and it
// keeps deadline arithmetic far from overflow.
constexpr duration max_timeout = 24h;
// A header block under 1 KiB fails ordinary browsers; over 1 MiB is not HTTP anyone sends on
// purpose, and each connection may hold one.
constexpr std::uint64_t min_header_bytes = 1024;
constexpr std::uint64_t max_header_bytes = 1024 * 1024;

endpoint read_endpoint(const yaml_node& node, host_rule rule) {
  if (node.raw().IsSequence()) {
    // Unquoted, [::1]:8080 starts a YAML flow list.
    node.fail("expected host:port, got a list (quote an IPv6 address: \"[::1]:8080\")");
  }
  if (!node.raw().IsScalar()) node.fail("expected host:port, got " + node.describe());
  std::string why;
  const auto parsed = parse_endpoint(node.text(), rule, &why);
  if (!parsed) node.fail_value(why);
  return *parsed;
}

std::vector<cidr> read_cidrs(const yaml_node& node) {
  std::vector<cidr> out;
  for (const yaml_node& item : node.items()) {
    std::string why;
    const auto block = cidr::parse(item.text(), &why);
    if (!block) item.fail_value(why);
    out.push_back(*block);
  }
  return out;
}

void read_upstream(const yaml_node& node, upstream_settings& out) {
  node.expect_map();
  out.address = read_endpoint(node.require("address"), host_rule::ip_or_hostname);
  if (const auto v = node.get("connect_timeout")) out.connect_timeout = v->positive_duration(max_timeout);
  if (const auto v = node.get("response_timeout")) out.response_timeout = v->positive_duration(max_timeout);
  if (const auto v = node.get("pool_max_idle")) {
    out.pool_max_idle = static_cast<std::uint32_t>(v->integer(0, UINT32_MAX));
  }
  if (const auto v = node.get("pool_idle_timeout")) {
    out.pool_idle_timeout = v->positive_duration(max_timeout);
  }
}

void read_timeouts(const yaml_node& node, client_timeouts& out) {
  node.expect_map();
  if (const auto v = node.get("client_header")) out.header = v->positive_duration(max_timeout);
  if (const auto v = node.get("client_idle")) out.idle = v->positive_duration(max_timeout);
  if (const auto v = node.get("client_body")) out.body = v->positive_duration(max_timeout);
  if (const auto v = node.get("drain")) out.drain = v->positive_duration(max_timeout);
}

// Unless set, the reserve is an eighth of a small pool, so a pool of 2 is not all reserve.
constexpr std::uint32_t default_reserved_connections = 32;

void read_caps(const yaml_node& node, caps_settings& out) {
  node.expect_map();
  if (const auto v = node.get("max_header_bytes")) {
    out.max_header_bytes = static_cast<std::uint32_t>(v->size(min_header_bytes, max_header_bytes));
  }
  if (const auto v = node.get("max_body_bytes")) out.max_body_bytes = v->size(1, UINT64_MAX);
  if (const auto v = node.get("max_client_connections")) {
    out.max_client_connections = static_cast<std::uint32_t>(v->integer(1, UINT32_MAX));
  }
  if (const auto v = node.get("max_websockets")) {
    out.max_websockets = static_cast<std::uint32_t>(v->integer(1, UINT32_MAX));
  }
  if (const auto v = node.get("max_connections_per_ip")) {
    out.max_connections_per_ip = static_cast<std::uint32_t>(v->integer(0, UINT32_MAX));
  }
  if (const auto v = node.get("reserved_connections")) {
    out.reserved_connections = static_cast<std::uint32_t>(v->integer(0, UINT32_MAX));
    if (out.reserved_connections >= out.max_client_connections) {
      v->fail_value("must be below caps.max_client_connections (" +
                    std::to_string(out.max_client_connections) +
                    "), or nothing but exempt requests could ever connect");
    }
  } else {
    out.reserved_connections =
        std::min(default_reserved_connections, out.max_client_connections / 8);
  }
}

// Header names, stored lower-case; a list replaces the default one whole (an empty list strips
// nothing).
std::vector<std::string> read_header_names(const yaml_node& node) {
  std::vector<std::string> out;
  for (const yaml_node& item : node.items()) {
    const std::string name = item.text();
    if (!is_http_token(name)) item.fail_value("not a valid header name");
    std::string lower = ascii_lower(name);
    if (lower == "x-forwarded-for") {
      item.fail_value("X-Forwarded-For is always rebuilt by sluice (trusted proxies' chain plus the "
                      "peer); it needs no stripping");
    }
    if (std::find(out.begin(), out.end(), lower) != out.end()) item.fail_value("listed twice");
    out.push_back(std::move(lower));
  }
  return out;
}

void read_client_ip(const yaml_node& node, client_ip_settings& out) {
  node.expect_map();
  if (const auto v = node.get("trusted_proxies")) out.trusted_proxies = read_cidrs(*v);
  if (const auto v = node.get("ipv6_prefix")) out.ipv6_prefix = static_cast<unsigned>(v->integer(1, 128));
  if (const auto v = node.get("strip_headers")) out.strip_headers = read_header_names(*v);
}

void read_paths(const yaml_node& node, path_settings& out) {
  node.expect_map();
  if (const auto v = node.get("escaped_slashes")) {
    const std::string text = v->text();
    if (text == "reject") out.escaped_slashes = escaped_slash_action::reject;
    else if (text == "decode") out.escaped_slashes = escaped_slash_action::decode;
    else if (text == "keep") out.escaped_slashes = escaped_slash_action::keep;
    else v->fail_value("expected reject, decode or keep");
  }
  if (const auto v = node.get("backslash")) {
    const std::string text = v->text();
    if (text == "reject") out.backslash = backslash_action::reject;
    else if (text == "slash") out.backslash = backslash_action::slash;
    else v->fail_value("expected reject or slash");
  }
  if (const auto v = node.get("path_params")) {
    const std::string text = v->text();
    if (text == "ignore") out.path_params = path_params_action::ignore;
    else if (text == "keep") out.path_params = path_params_action::keep;
    else v->fail_value("expected ignore or keep");
  }
}

bool is_env_name_char(char c, bool first) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || (!first && c >= '0' && c <= '9');
}

bool is_env_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!is_env_name_char(name[i], i == 0)) return false;
  }
  return true;
}

// The name only: the token itself never goes in the file, where backups and diffs spread it.
std::string read_token_env(const yaml_node& node) {
  const std::string name = node.text();
  if (is_env_name(name)) return name;
  if (name.starts_with('$') && is_env_name(std::string_view(name).substr(1))) {
    node.fail_value("write the variable's name without \"$\"");
  }
  node.fail_value("expected the name of an environment variable (letters, digits and \"_\", not "
                  "starting with a digit)");
}

// Hosts as the Host field names them, without a port (any port is served): a name or an IPv4
// literal, or an IPv6 literal in brackets. Stored lower-case, IPv6 with its brackets.
std::vector<std::string> read_admin_hosts(const yaml_node& node) {
  std::vector<std::string> out;
  for (const yaml_node& item : node.items()) {
    const std::string text = ascii_lower(item.text());
    const auto parsed = parse_endpoint(text + ":1", host_rule::ip_or_hostname);
    if (!parsed) {
      if (parse_endpoint(text, host_rule::ip_or_hostname)) {
        item.fail_value("write the host without a port: every port is served");
      }
      item.fail_value("expected a host name or an IP literal (IPv6 in brackets: \"[::1]\")");
    }
    std::string host = parsed->host.find(':') != std::string::npos ? "[" + parsed->host + "]"
                                                                     : parsed->host;
    if (std::find(out.begin(), out.end(), host) != out.end()) item.fail_value("listed twice");
    out.push_back(std::move(host));
  }
  if (out.empty()) {
    node.fail("empty list would refuse every request by name; list the names operators use "
              "(an IP literal of the admin address is always served)");
  }
  return out;
}

void read_admin(const yaml_node& node, admin_settings& out) {
  node.expect_map();
  if (const auto v = node.get("enabled")) out.enabled = v->boolean();
  if (const auto v = node.get("listen")) out.listen = read_endpoint(*v, host_rule::ip_literal);
  if (const auto v = node.get("allow")) {
    out.allow = read_cidrs(*v);
    if (out.allow.empty()) v->fail("empty list would refuse every client; set admin.enabled: false instead");
  }
  if (const auto v = node.get("token_env")) out.token_env = read_token_env(*v);
  if (const auto v = node.get("hosts")) out.hosts = read_admin_hosts(*v);
  if (const auto v = node.get("max_connections")) {
    out.max_connections = static_cast<std::uint32_t>(v->integer(1, UINT32_MAX));
  }
  if (const auto v = node.get("max_connections_per_ip")) {
    out.max_connections_per_ip = static_cast<std::uint32_t>(v->integer(0, UINT32_MAX));
  }
  if (const auto v = node.get("header_timeout")) out.header_timeout = v->positive_duration(max_timeout);
  if (const auto v = node.get("idle_timeout")) out.idle_timeout = v->positive_duration(max_timeout);
  if (const auto v = node.get("token_failures_per_minute")) {
    out.token_failures_per_minute = static_cast<std::uint32_t>(v->integer(1, UINT32_MAX));
  }
}

// True when two listeners cannot both bind: the same address, or a wildcard that takes the
// other's address too ("::" takes IPv4 as well on a dual-stack socket). Port 0 never clashes:
// the kernel picks a free port for each.
bool same_socket(const endpoint& a, const endpoint& b) {
  if (a.port == 0 || a.port != b.port) return false;
  const auto x = ip_address::parse(a.host);
  const auto y = ip_address::parse(b.host);
  if (!x || !y) return a.host == b.host;
  if (*x == *y) return true;
  const ip_address any_v4 = ip_address::v4(0, 0, 0, 0);
  const ip_address any_v6{};
  auto covers = [&](const ip_address& wild, const ip_address& other) {
    return wild == any_v6 || (wild == any_v4 && other.is_v4());
  };
  return covers(*x, *y) || covers(*y, *x);
}

// admin.listen is checked against the proxy's listen once both are read; the message points at
// admin.listen when it is written, else at listen (the admin address is then the default).
void check_admin_listen(const yaml_node& root, const config& cfg) {
  if (!cfg.admin.enabled || !same_socket(cfg.admin.listen, cfg.listen)) return;
  const std::string admin_text = format_endpoint(cfg.admin.listen);
  const std::string proxy_text = format_endpoint(cfg.listen);
  const auto admin_node = root.get("admin");
  if (const auto v = admin_node ? admin_node->get("listen") : std::nullopt) {
    v->fail_value("clashes with listen (" + proxy_text + "); the admin listener needs a port of its own");
  }
  root.require("listen").fail_value("clashes with the admin listener's default address (" + admin_text +
                                    "); set admin.listen to another port, or admin.enabled: false");
}

std::string read_access_log(const yaml_node& node) {
  const std::string text = node.text();
  // A path must show that it is one, so "stdot" is a typo rather than a file named stdot.
  if (text == "stdout" || text == "off" || text.find('/') != std::string::npos) return text;
  node.fail_value("expected stdout, off or a file path (absolute, or relative starting with ./)");
}

void read_config(const yaml_node& root, config& out) {
  if (const auto v = root.get("listen")) out.listen = read_endpoint(*v, host_rule::ip_literal);
  if (const auto v = root.get("workers")) out.workers = static_cast<unsigned>(v->integer(0, max_workers));
  read_upstream(root.require("upstream"), out.upstream);
  if (const auto v = root.get("timeouts")) read_timeouts(*v, out.timeouts);
  if (const auto v = root.get("caps")) read_caps(*v, out.caps);
  if (const auto v = root.get("client_ip")) read_client_ip(*v, out.client_ip);
  if (const auto v = root.get("allowlist")) out.allowlist = read_cidrs(*v);
  if (const auto v = root.get("paths")) read_paths(*v, out.paths);
  if (const auto v = root.get("key_table")) {
    v->expect_map();
    if (const auto keys = v->get("max_keys")) out.key_table.max_keys = keys->integer(1, UINT64_MAX);
  }
  if (const auto v = root.get("access_log")) out.access_log = read_access_log(*v);
  // Loopback only unless the operator says otherwise; the admin API shows the whole config.
  out.admin.allow = {*cidr::parse("127.0.0.0/8"), *cidr::parse("::1/128")};
  if (const auto v = root.get("admin")) read_admin(*v, out.admin);
  check_admin_listen(root, out);
  if (const auto v = root.get("metrics")) {
    v->expect_map();
    if (const auto enabled = v->get("enabled")) out.metrics.enabled = enabled->boolean();
  }
  match_options defaults;
  if (const auto v = root.get("match")) defaults = read_match_options(*v, defaults);
  if (const auto v = root.get("routes")) out.routes = read_routes(*v, defaults);
  out.default_route = read_default_route(root.get("default"));
}

// The offset of the first byte of `text` that is not strict UTF-8 (RFC 3629: no overlong forms,
// no surrogates, nothing past U+10FFFF), or npos.
std::size_t first_invalid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xbf;  // bounds of the second byte
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c == 0xe0) { n = 2; lo = 0xa0; }
    else if (c >= 0xe1 && c <= 0xec) n = 2;
    else if (c == 0xed) { n = 2; hi = 0x9f; }
    else if (c >= 0xee && c <= 0xef) n = 2;
    else if (c == 0xf0) { n = 3; lo = 0x90; }
    else if (c >= 0xf1 && c <= 0xf3) n = 3;
    else if (c == 0xf4) { n = 3; hi = 0x8f; }
    else return i;
    if (i + n >= text.size()) return i;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return std::string_view::npos;
}

// YAML is Unicode text (YAML 1.2, 5.2), but yaml-cpp passes any bytes through, and a string
// that is not UTF-8 cannot be written as JSON: the admin API's /config threw (found by
// fuzz/config_loader_fuzz, an access_log path with a Latin-1 byte).
void check_utf8(const std::string& yaml, const std::string& source) {
  const std::size_t at = first_invalid_utf8(yaml);
  if (at == std::string_view::npos) return;
  const std::string_view before(yaml.data(), at);
  const std::size_t newline = before.rfind('\n');
  const std::size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
  const int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
  const int col = 1 + static_cast<int>(at - line_start);
  static constexpr char hex[] = "0123456789ABCDEF";
  const auto b = static_cast<unsigned char>(yaml[at]);
  throw config_error(source, line, col, "",
                     std::string("the file is not UTF-8 text (byte 0x") + hex[b >> 4] + hex[b & 15] +
                         "); YAML files are Unicode, save it as UTF-8");
}

// Records where each document starts; every other event is dropped.
class document_starts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// yaml-cpp 0.7's LoadAll loops for ever on a token no rule takes, such as a "," at the top of
// the file: each turn adds a null document and consumes nothing, until memory runs out (its
// issue 1040, fixed after 0.7; found by fuzz/config_loader_fuzz). A reload would take the
// running proxy down with it. A first pass over the events stops where a document starts at
// the same place as the one before.
void check_documents_advance(const std::string& yaml, const std::string& source) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  document_starts handler;
  while (parser.HandleNextDocument(handler)) {
    const auto& s = handler.starts;
    if (s.size() >= 2 && s[s.size() - 1].pos == s[s.size() - 2].pos) {
      const YAML::Mark& m = s.back();
      const std::string what = m.pos >= 0 && static_cast<std::size_t>(m.pos) < yaml.size()
                                   ? "unexpected " + quoted(yaml.substr(static_cast<std::size_t>(m.pos), 1))
                                   : "unexpected end of file";
      throw config_error(source, m.line + 1, m.column + 1, "", "YAML syntax error: " + what);
    }
  }
}

std::shared_ptr<const config> load_document(const std::string& yaml, const std::string& source) {
  std::vector<YAML::Node> documents;
  check_utf8(yaml, source);
  try {
    check_documents_advance(yaml, source);
    documents = YAML::LoadAll(yaml);
  } catch (const YAML::ParserException& e) {
    throw config_error(source, e.mark.line + 1, e.mark.column + 1, "", "YAML syntax error: " + e.msg);
  }
  if (documents.empty() || (documents.size() == 1 && documents[0].IsNull())) {
    throw config_error(source, 0, 0, "",
                       "no configuration (the file is empty); at least \"upstream\" is required");
  }
  if (documents.size() > 1) {
    yaml_node(source, documents[1]).fail("only one YAML document is allowed; remove the second \"---\"");
  }
  const yaml_node root(source, documents[0]);
  if (!root.raw().IsMap()) root.fail("expected a map of settings at the top level, got " + root.describe());

  check_keys(root);
  auto out = std::make_shared<config>();
  out->source = source;
  read_config(root, *out);
  return out;
}

}  // namespace

std::shared_ptr<const config> load_string(std::string_view yaml, const std::string& source_name) {
  try {
    return load_document(std::string(yaml), source_name);
  } catch (const YAML::Exception& e) {
    // The loader reads nodes without throwing conversions; this is the safety net that keeps
    // the promise that only config_error leaves.
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    throw config_error(source_name, line, e.mark.column + 1, "", "YAML error: " + e.msg);
  }
}

std::shared_ptr<const config> load_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) throw config_error(path, 0, 0, "", std::string("cannot read file: ") + std::strerror(errno));
  std::string text;
  char buffer[8192];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, got);
  const bool failed = std::ferror(file) != 0;
  const int error = errno;
  std::fclose(file);
  if (failed) throw config_error(path, 0, 0, "", std::string("cannot read file: ") + std::strerror(error));
  return load_string(text, path);
}

}  // namespace sluice::config
