#include "config/route_loader.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "config/config_names.hpp"
#include "config/http_token.hpp"
#include "config/limit_identity.hpp"
#include "config/limit_loader.hpp"
#include "config/websocket_loader.hpp"

namespace sluice::config {
namespace {

constexpr std::string_view default_route_name = "default";

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

std::string read_route_name(const yaml_node& node) {
  const std::string name = node.text();
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_name_char)) {
    node.fail_value("a route name is letters, digits, \"_\", \".\" and \"-\"");
  }
  if (name == default_route_name) {
    node.fail_value("reserved for the fallback route; configure it under the top-level "
                    "\"default\" key");
  }
  return name;
}

// The pattern is compared with the request path (no query), so it must look like one.
std::string read_pattern(const yaml_node& node, match_kind kind) {
  const std::string pattern = node.text();
  if (pattern.empty() || pattern.front() != '/') node.fail_value("must start with \"/\"");
  for (const char c : pattern) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '?' || c == '#') {
      node.fail_value("a pattern matches the path only: no spaces, control characters, \"?\" or \"#\"");
    }
  }
  if (kind != match_kind::glob && pattern.find('*') != std::string::npos) {
    node.fail_value("\"*\" is a wildcard only under glob; write glob: " + pattern);
  }
  if (kind == match_kind::glob && pattern.find("***") != std::string::npos) {
    node.fail_value("\"***\" is not a wildcard; use * (within a segment) or ** (across segments)");
  }
  return pattern;
}

void read_match(const yaml_node& node, route& out) {
  constexpr std::array<std::pair<std::string_view, match_kind>, 3> keys{{
      {"path", match_kind::exact}, {"prefix", match_kind::prefix}, {"glob", match_kind::glob}}};
  std::optional<yaml_node> found;
  std::string_view found_key;
  for (const auto& [key, kind] : keys) {
    const auto value = node.get(key);
    if (!value) continue;
    if (found) {
      value->fail("a route takes exactly one of path, prefix or glob; this one also has " +
                  quoted(found_key) + " (line " + std::to_string(found->line()) + ")");
    }
    found = value;
    found_key = key;
    out.match = kind;
  }
  if (!found) node.fail("a route needs one of path (exact), prefix or glob");
  out.pattern = read_pattern(*found, out.match);
}

std::vector<std::string> read_methods(const yaml_node& node) {
  std::vector<std::string> out;
  const std::vector<yaml_node> items = node.items();
  if (items.empty()) node.fail("empty list; leave methods out to match every method");
  for (const yaml_node& item : items) {
    const std::string text = item.text();
    if (!is_http_token(text)) item.fail_value("not a valid HTTP method");
    std::string method = ascii_upper(text);
    if (std::find(out.begin(), out.end(), method) != out.end()) item.fail_value("listed twice");
    out.push_back(std::move(method));
  }
  return out;
}

// Shared by routes and the default route: `exempt` and `limits`, which exclude each other.
void read_exempt_and_limits(const yaml_node& node, route& out) {
  if (const auto exempt = node.get("exempt")) out.exempt = exempt->boolean();
  const auto limits = node.get("limits");
  if (!limits) return;
  const std::vector<yaml_node> items = limits->items();
  if (out.exempt && !items.empty()) {
    limits->fail("an exempt route is never limited; remove its limits or set exempt: false");
  }
  for (const auto& item : items) out.limits.push_back(read_limit(item));
  assign_limit_identities(out.name, out.limits);
}

// Shared by routes and the default route. Allowed on an exempt route too: without the block an
// exempt route could not carry WebSockets at all.
void read_websocket_block(const yaml_node& node, route& out) {
  if (const auto ws = node.get("websocket")) out.websocket = read_websocket(*ws, out.name);
}

// True when every request `later` matches is taken by `earlier` first.
bool hides(const route& earlier, const route& later) {
  if (earlier.match != later.match || earlier.pattern != later.pattern) return false;
  if (earlier.methods.empty()) return true;
  if (later.methods.empty()) return false;
  return std::all_of(later.methods.begin(), later.methods.end(), [&](const std::string& m) {
    return std::find(earlier.methods.begin(), earlier.methods.end(), m) != earlier.methods.end();
  });
}

}  // namespace

match_options read_match_options(const yaml_node& node, const match_options& defaults) {
  node.expect_map();
  match_options out = defaults;
  if (const auto v = node.get("case_sensitive")) out.case_sensitive = v->boolean();
  if (const auto v = node.get("trailing_slash")) {
    const std::string text = v->text();
    if (text == "ignore") out.ignore_trailing_slash = true;
    else if (text == "strict") out.ignore_trailing_slash = false;
    else v->fail_value("expected ignore (\"/a/\" matches \"/a\") or strict");
  }
  return out;
}

std::vector<route> read_routes(const yaml_node& list, const match_options& defaults) {
  std::vector<route> out;
  std::vector<int> lines;       // where each route starts, for messages about a later one
  std::vector<int> name_lines;  // where each route's name is
  for (const yaml_node& node : list.items()) {
    node.expect_map();
    route r;
    const yaml_node name = node.require("name");
    r.name = read_route_name(name);
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].name == r.name) {
        name.fail_value("duplicate route name (first at line " + std::to_string(name_lines[i]) + ")");
      }
    }
    read_match(node, r);
    r.options = defaults;
    if (const auto m = node.get("match")) r.options = read_match_options(*m, defaults);
    if (const auto methods = node.get("methods")) r.methods = read_methods(*methods);
    read_exempt_and_limits(node, r);
    read_websocket_block(node, r);
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (hides(out[i], r)) {
        node.fail("never matches: route " + quoted(out[i].name) + " (line " +
                  std::to_string(lines[i]) + ") comes first with the same " +
                  std::string(to_string(r.match)) + " pattern and all of its methods");
      }
    }
    out.push_back(std::move(r));
    lines.push_back(node.line());
    name_lines.push_back(name.line());
  }
  return out;
}

route read_default_route(const std::optional<yaml_node>& node) {
  route out;
  out.name = default_route_name;
  out.match = match_kind::prefix;
  out.pattern = "/";
  if (!node) return out;
  node->expect_map();
  read_exempt_and_limits(*node, out);
  read_websocket_block(*node, out);
  return out;
}

}  // namespace sluice::config
