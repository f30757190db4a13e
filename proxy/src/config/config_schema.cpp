#include "config/config_schema.hpp"

#include <array>
#include <span>
#include <string_view>

#include "config/key_suggestion.hpp"

namespace sluice::config {
namespace {

enum class shape_kind { value, map, list };

struct shape;

struct field {
  std::string_view key;
  const shape* value;
};

// What a node may look like. Only maps and lists are walked; a value is checked by pass two.
struct shape {
  shape_kind kind;
  std::span<const field> fields = {};  // map: the allowed keys
  const shape* element = nullptr;      // list: the shape of each element
  std::string_view where = {};         // map: where its keys belong, for "it belongs ..." hints
  std::string_view note = {};          // map: said of an unknown key that is no mere typo
};

constexpr shape value{shape_kind::value};
constexpr shape value_list{shape_kind::list, {}, &value};

constexpr field limit_fields[] = {
    {"per", &value},   {"rate", &value},          {"algorithm", &value},
    {"burst", &value}, {"max_in_flight", &value}, {"name", &value}, {"mode", &value},
};
constexpr shape limit{shape_kind::map, limit_fields, nullptr, "in a limit, under \"limits\""};
constexpr shape limit_list{shape_kind::list, {}, &limit};

constexpr field compression_fields[] = {
    {"enabled", &value}, {"window_bits", &value}, {"mem_level", &value}, {"level", &value}};
constexpr shape compression{shape_kind::map, compression_fields, nullptr,
                            "in a \"websocket.compression\" block"};

constexpr field websocket_fields[] = {
    {"max_connections_per_ip", &value}, {"max_connections", &value},
    {"messages_per_ip", &value},        {"on_message_limit", &value},
    {"idle_timeout", &value},           {"max_message_size", &value},
    {"max_queued_bytes", &value},       {"compression", &compression},
};
constexpr shape websocket{shape_kind::map, websocket_fields, nullptr,
                          "in a route's \"websocket\" block"};

constexpr field match_fields[] = {{"case_sensitive", &value}, {"trailing_slash", &value}};
constexpr shape match{shape_kind::map, match_fields, nullptr, "in a \"match\" block"};

constexpr field route_fields[] = {
    {"name", &value},         {"path", &value},   {"prefix", &value},      {"glob", &value},
    {"methods", &value_list}, {"exempt", &value}, {"limits", &limit_list}, {"websocket", &websocket},
    {"match", &match},
};
constexpr shape route{shape_kind::map, route_fields, nullptr, "in a route, under \"routes\""};
constexpr shape route_list{shape_kind::list, {}, &route};

constexpr field default_fields[] = {
    {"limits", &limit_list}, {"exempt", &value}, {"websocket", &websocket}};
constexpr shape default_route{shape_kind::map, default_fields, nullptr, {},
                              "the default route matches whatever no route does; it takes only "
                              "limits, exempt and websocket"};

constexpr field upstream_fields[] = {
    {"address", &value},       {"connect_timeout", &value},   {"response_timeout", &value},
    {"pool_max_idle", &value}, {"pool_idle_timeout", &value},
};
constexpr shape upstream{shape_kind::map, upstream_fields, nullptr, "under \"upstream\""};

constexpr field timeouts_fields[] = {
    {"client_header", &value}, {"client_idle", &value}, {"client_body", &value},
    {"drain", &value}};
constexpr shape timeouts{shape_kind::map, timeouts_fields, nullptr, "under \"timeouts\""};

constexpr field caps_fields[] = {
    {"max_header_bytes", &value},       {"max_body_bytes", &value},
    {"max_client_connections", &value}, {"max_websockets", &value},
    {"max_connections_per_ip", &value}, {"reserved_connections", &value},
};
constexpr shape caps{shape_kind::map, caps_fields, nullptr, "under \"caps\""};

constexpr field client_ip_fields[] = {
    {"trusted_proxies", &value_list}, {"ipv6_prefix", &value}, {"strip_headers", &value_list}};
constexpr shape client_ip{shape_kind::map, client_ip_fields, nullptr, "under \"client_ip\""};

constexpr field paths_fields[] = {
    {"escaped_slashes", &value}, {"backslash", &value}, {"path_params", &value}};
constexpr shape paths{shape_kind::map, paths_fields, nullptr, "under \"paths\""};

constexpr field key_table_fields[] = {{"max_keys", &value}};
constexpr shape key_table{shape_kind::map, key_table_fields, nullptr, "under \"key_table\""};

constexpr field admin_fields[] = {
    {"enabled", &value},        {"listen", &value},          {"allow", &value_list},
    {"token_env", &value},      {"hosts", &value_list},      {"max_connections", &value},
    {"max_connections_per_ip", &value}, {"header_timeout", &value}, {"idle_timeout", &value},
    {"token_failures_per_minute", &value}};
constexpr shape admin{shape_kind::map, admin_fields, nullptr, "under \"admin\""};

constexpr field metrics_fields[] = {{"enabled", &value}};
constexpr shape metrics{shape_kind::map, metrics_fields, nullptr, "under \"metrics\""};

constexpr field top_fields[] = {
    {"listen", &value},         {"workers", &value},      {"upstream", &upstream},
    {"timeouts", &timeouts},    {"caps", &caps},          {"client_ip", &client_ip},
    {"allowlist", &value_list}, {"key_table", &key_table}, {"access_log", &value},
    {"admin", &admin},          {"metrics", &metrics},    {"routes", &route_list},
    {"default", &default_route}, {"paths", &paths},     {"match", &match},
};
constexpr shape top{shape_kind::map, top_fields, nullptr, "at the top level"};

// Maps a misplaced key may belong to. The default route is left out: its keys are a route's too.
constexpr std::array<const shape*, 14> homes{&top,   &upstream,  &timeouts, &caps,
                                             &client_ip, &key_table, &admin,    &metrics,
                                             &route, &limit,     &websocket, &paths, &match,
                                             &compression};

const field* find_field(const shape& s, std::string_view key) {
  for (const field& f : s.fields)
    if (f.key == key) return &f;
  return nullptr;
}

std::string unknown_key_message(std::string_view key, const shape& s) {
  std::string message = "unknown key " + quoted(key);
  std::vector<std::string_view> known;
  for (const field& f : s.fields) known.push_back(f.key);
  if (const auto close = closest_word(key, known)) {
    return message + " (did you mean " + quoted(*close) + "?)";
  }
  if (!s.note.empty()) return message + " (" + std::string(s.note) + ")";
  const shape* home = nullptr;
  int homes_found = 0;
  for (const shape* candidate : homes) {
    if (candidate != &s && find_field(*candidate, key)) {
      home = candidate;
      ++homes_found;
    }
  }
  if (homes_found > 1) {
    // Several maps take the key (max_connections_per_ip: caps, admin, websocket): a block
    // nested right here is the likeliest home, as a route's websocket block is for a route.
    const shape* child = nullptr;
    int children = 0;
    for (const field& f : s.fields) {
      if (f.value->kind == shape_kind::map && find_field(*f.value, key)) {
        child = f.value;
        ++children;
      }
    }
    if (children == 1) {
      home = child;
      homes_found = 1;
    }
  }
  if (homes_found == 1) return message + " (it belongs " + std::string(home->where) + ")";
  std::string list;
  for (const std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
  return message + " (known keys: " + list + ")";
}

void check(const yaml_node& node, const shape& s) {
  if (s.kind == shape_kind::list && node.raw().IsSequence()) {
    for (const yaml_node& item : node.items()) check(item, *s.element);
  }
  if (s.kind != shape_kind::map || !node.raw().IsMap()) return;
  const std::vector<yaml_entry> entries = node.entries();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const yaml_node& key = entries[i].key;
    const std::string& name = key.raw().Scalar();
    for (std::size_t j = 0; j < i; ++j) {
      if (entries[j].key.raw().Scalar() == name) {
        key.fail("duplicate key " + quoted(name) + " (first at line " +
                 std::to_string(entries[j].key.line()) + ")");
      }
    }
    const field* f = find_field(s, name);
    if (!f) key.fail(unknown_key_message(name, s));
    check(entries[i].value, *f->value);
  }
}

}  // namespace

void check_keys(const yaml_node& root) { check(root, top); }

}  // namespace sluice::config
