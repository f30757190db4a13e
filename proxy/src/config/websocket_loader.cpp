#include "config/websocket_loader.hpp"

#include <cstdint>

#include "config/limit_identity.hpp"
#include "config/limit_loader.hpp"

namespace sluice::config {
namespace {

using namespace std::chrono_literals;

// Longest idle_timeout accepted, as for the other timeouts: a larger one is almost surely a
// unit slip (5d for 5m), and it keeps deadline arithmetic far from overflow.
constexpr duration max_idle_timeout = 24h;
// The relay holds at least one frame header (up to 14 bytes) and some payload per direction;
// below 1 KiB it would stop reading after every few bytes and crawl.
constexpr std::uint64_t min_queued_bytes = 1024;

// RFC 7692 allows windows of 2^8 to 2^15; zlib cannot compress with 2^8 (it silently uses 2^9,
// which a peer told 8 could not read), so sluice's own window starts at 9.
constexpr std::uint64_t min_window_bits = 9;
constexpr std::uint64_t max_window_bits = 15;

websocket_compression read_compression(const yaml_node& node) {
  if (!node.raw().IsMap()) {
    node.fail("expected a map, got " + node.describe() +
              " (write \"compression: {enabled: false}\" to turn it off)");
  }
  websocket_compression out;
  if (const auto v = node.get("enabled")) out.enabled = v->boolean();
  if (const auto v = node.get("window_bits")) {
    const auto bits = v->integer(0, max_window_bits);
    if (bits < min_window_bits) {
      v->fail("must be between " + std::to_string(min_window_bits) + " and " +
              std::to_string(max_window_bits) + ", got " + std::to_string(bits) +
              " (zlib cannot compress with a window under 2^9)");
    }
    out.window_bits = static_cast<std::uint8_t>(bits);
  }
  if (const auto v = node.get("mem_level")) out.mem_level = static_cast<std::uint8_t>(v->integer(1, 9));
  if (const auto v = node.get("level")) out.level = static_cast<std::uint8_t>(v->integer(1, 9));
  return out;
}

message_limit_action read_action(const yaml_node& node) {
  const std::string text = node.text();
  if (text == "close") return message_limit_action::close;
  if (text == "drop") return message_limit_action::drop;
  node.fail_value("unknown action (close, drop)");
}

}  // namespace

websocket_settings read_websocket(const yaml_node& node, std::string_view route_name) {
  if (!node.raw().IsMap()) {
    // `websocket:` alone reads as nothing; say how to ask for the defaults.
    node.fail("expected a map, got " + node.describe() + " (write \"websocket: {}\" for every default)");
  }
  websocket_settings out;
  if (const auto v = node.get("max_connections_per_ip")) {
    out.max_connections_per_ip = static_cast<std::uint32_t>(v->integer(0, UINT32_MAX));
  }
  if (const auto v = node.get("max_connections")) {
    out.max_connections = static_cast<std::uint32_t>(v->integer(0, UINT32_MAX));
  }
  if (const auto v = node.get("messages_per_ip")) out.messages_per_ip = read_rate(*v);
  if (const auto v = node.get("on_message_limit")) {
    out.on_message_limit = read_action(*v);
    if (!out.messages_per_ip) v->fail("on_message_limit applies to messages_per_ip, and this block has none");
  }
  if (const auto v = node.get("idle_timeout")) out.idle_timeout = v->positive_duration(max_idle_timeout);
  if (const auto v = node.get("max_message_size")) out.max_message_bytes = v->size(1, UINT64_MAX);
  if (const auto v = node.get("max_queued_bytes")) {
    out.max_queued_bytes = v->size(0, UINT64_MAX);
    if (out.max_queued_bytes < min_queued_bytes) {
      v->fail_value("must be at least " + std::to_string(min_queued_bytes) +
                    " bytes (the relay holds a whole frame header and some payload)");
    }
  }
  if (const auto v = node.get("compression")) out.compression = read_compression(*v);
  out.id = websocket_identity(route_name);
  return out;
}

}  // namespace sluice::config
