#include "config/config_json.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

#include "config/config_names.hpp"
#include "config/duration_parser.hpp"
#include "config/endpoint_parser.hpp"
#include "config/rate_parser.hpp"

namespace sluice::config {
namespace {

using json = nlohmann::json;

std::string hex_id(std::uint64_t id) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(id));
  return text;
}

json cidrs_json(const std::vector<cidr>& blocks) {
  json out = json::array();
  for (const cidr& block : blocks) out.push_back(block.to_string());
  return out;
}

json limit_json(const limit& l) {
  return {
      {"name", l.name},
      {"per", to_string(l.per)},
      {"header", l.per == key_kind::header ? json(l.header) : json(nullptr)},
      {"rate", l.rate ? json(format_rate(*l.rate)) : json(nullptr)},
      // Without a rate the algorithm and burst mean nothing; null rather than a default.
      {"algorithm", l.rate ? json(to_string(l.algo)) : json(nullptr)},
      {"burst", l.rate ? json(l.burst) : json(nullptr)},
      {"max_in_flight", l.max_in_flight},
      {"mode", l.shadow ? "shadow" : "enforce"},
      {"id", hex_id(l.id)},
  };
}

json websocket_json(const websocket_settings& ws) {
  return {
      {"max_connections_per_ip", ws.max_connections_per_ip},
      {"max_connections", ws.max_connections},
      {"messages_per_ip", ws.messages_per_ip ? json(format_rate(*ws.messages_per_ip)) : json(nullptr)},
      {"on_message_limit", to_string(ws.on_message_limit)},
      {"idle_timeout", format_duration(ws.idle_timeout)},
      {"max_message_size", ws.max_message_bytes},
      {"max_queued_bytes", ws.max_queued_bytes},
      {"compression",
       {{"enabled", ws.compression.enabled},
        {"window_bits", ws.compression.window_bits},
        {"mem_level", ws.compression.mem_level},
        {"level", ws.compression.level}}},
      {"id", hex_id(ws.id)},
  };
}

json route_json(const route& r) {
  json limits = json::array();
  for (const limit& l : r.limits) limits.push_back(limit_json(l));
  return {
      {"name", r.name},
      {"match", to_string(r.match)},
      {"pattern", r.pattern},
      {"methods", r.methods},
      {"exempt", r.exempt},
      {"limits", std::move(limits)},
      {"websocket", r.websocket ? websocket_json(*r.websocket) : json(nullptr)},
  };
}

}  // namespace

json to_json(const config& cfg) {
  json routes = json::array();
  for (const route& r : cfg.routes) routes.push_back(route_json(r));
  return {
      {"source", cfg.source},
      {"listen", format_endpoint(cfg.listen)},
      {"workers", cfg.workers},
      {"upstream",
       {
           {"address", format_endpoint(cfg.upstream.address)},
           {"connect_timeout", format_duration(cfg.upstream.connect_timeout)},
           {"response_timeout", format_duration(cfg.upstream.response_timeout)},
           {"pool_max_idle", cfg.upstream.pool_max_idle},
           {"pool_idle_timeout", format_duration(cfg.upstream.pool_idle_timeout)},
       }},
      {"timeouts",
       {
           {"client_header", format_duration(cfg.timeouts.header)},
           {"client_idle", format_duration(cfg.timeouts.idle)},
           {"client_body", format_duration(cfg.timeouts.body)},
           {"drain", format_duration(cfg.timeouts.drain)},
       }},
      {"caps",
       {
           {"max_header_bytes", cfg.caps.max_header_bytes},
           {"max_body_bytes", cfg.caps.max_body_bytes},
           {"max_client_connections", cfg.caps.max_client_connections},
           {"max_websockets", cfg.caps.max_websockets},
           {"max_connections_per_ip", cfg.caps.max_connections_per_ip},
           {"reserved_connections", cfg.caps.reserved_connections},
       }},
      {"client_ip",
       {
           {"trusted_proxies", cidrs_json(cfg.client_ip.trusted_proxies)},
           {"ipv6_prefix", cfg.client_ip.ipv6_prefix},
       }},
      {"allowlist", cidrs_json(cfg.allowlist)},
      {"key_table", {{"max_keys", cfg.key_table.max_keys}}},
      {"access_log", cfg.access_log},
      {"admin",
       {
           {"enabled", cfg.admin.enabled},
           {"listen", format_endpoint(cfg.admin.listen)},
           {"allow", cidrs_json(cfg.admin.allow)},
           {"token_env", cfg.admin.token_env},
           // Configured, that is: whether the variable holds a token is known only at run time.
           {"mutating_endpoints", !cfg.admin.token_env.empty()},
           {"hosts", cfg.admin.hosts},
           {"max_connections", cfg.admin.max_connections},
           {"max_connections_per_ip", cfg.admin.max_connections_per_ip},
           {"header_timeout", format_duration(cfg.admin.header_timeout)},
           {"idle_timeout", format_duration(cfg.admin.idle_timeout)},
           {"token_failures_per_minute", cfg.admin.token_failures_per_minute},
       }},
      {"metrics", {{"enabled", cfg.metrics.enabled}}},
      {"routes", std::move(routes)},
      {"default", route_json(cfg.default_route)},
  };
}

}  // namespace sluice::config
