#include "config/config_summary.hpp"

#include "config/config_names.hpp"
#include "config/rate_parser.hpp"

namespace sluice::config {

std::string summarize(const limit& l) {
  std::string out;
  if (l.name != derived_limit_name(l)) out = l.name + ": ";
  out += derived_limit_name(l);
  if (l.rate) {
    out += " (" + std::string(to_string(l.algo));
    if (l.algo == algorithm::token_bucket) out += ", burst " + std::to_string(l.burst);
    out += ")";
  }
  if (l.shadow) out += " [shadow: never refuses]";
  return out;
}

std::string summarize(const websocket_settings& ws) {
  std::string caps;
  auto add = [&](const std::string& part) { caps += (caps.empty() ? "" : ", ") + part; };
  if (ws.max_connections_per_ip != 0) {
    add("max_connections_per_ip " + std::to_string(ws.max_connections_per_ip));
  }
  if (ws.max_connections != 0) add("max_connections " + std::to_string(ws.max_connections));
  if (ws.messages_per_ip) {
    add("messages_per_ip " + format_rate(*ws.messages_per_ip) + " (" +
        std::string(to_string(ws.on_message_limit)) + ")");
  }
  return "websocket: " + (caps.empty() ? std::string("no caps") : caps);
}

std::string summarize(const route& r) {
  std::string out = r.name + "  " + std::string(to_string(r.match)) + " " + r.pattern + "  ";
  if (r.methods.empty()) {
    out += "ANY";
  } else {
    for (std::size_t i = 0; i < r.methods.size(); ++i) out += (i ? "," : "") + r.methods[i];
  }
  if (r.exempt) {
    out += "  exempt";
  } else if (r.limits.empty()) {
    out += "  no limits";
  } else {
    for (std::size_t i = 0; i < r.limits.size(); ++i) out += (i ? "; " : "  ") + summarize(r.limits[i]);
  }
  if (r.websocket) out += "  " + summarize(*r.websocket);
  return out;
}

}  // namespace sluice::config
