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
  if (!ws.compression.enabled) add("compression off");
  return "websocket: " + (caps.empty() ? std::string("no caps") : caps);
}

std::string summarize(const route& r) {
  std::string out = r.name + "  " + std::string(to_string(r.match)) + " " + r.pattern;
  const match_options loose;
  if (r.name != "default" && !(r.options == loose)) {
    out += " (";
    out += r.options.case_sensitive ? "case-sensitive" : "any case";
    out += r.options.ignore_trailing_slash ? ", trailing slash ignored" : ", trailing slash strict";
    out += ")";
  }
  out += "  ";
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

namespace sluice::config {

std::vector<std::string> summarize(const path_settings& p) {
  std::vector<std::string> out;
  switch (p.escaped_slashes) {
    case escaped_slash_action::reject:
      out.push_back("paths.escaped_slashes: reject  %2F and %5C in a path get 400");
      break;
    case escaped_slash_action::decode:
      out.push_back("paths.escaped_slashes: decode  %2F and %5C are read, matched and forwarded as "
                    "\"/\" (for backends that decode them before routing)");
      break;
    case escaped_slash_action::keep:
      out.push_back("paths.escaped_slashes: keep  %2F and %5C are forwarded as written and matched "
                    "as characters inside one segment (only safe if the backend never decodes "
                    "them before routing)");
      break;
  }
  out.push_back(p.backslash == backslash_action::reject
                    ? "paths.backslash: reject  a raw \"\\\" in a path gets 400"
                    : "paths.backslash: slash  a raw \"\\\" is read, matched and forwarded as \"/\"");
  out.push_back(p.path_params == path_params_action::ignore
                    ? "paths.path_params: ignore  \";params\" are dropped from each segment for "
                      "matching (forwarded as written)"
                    : "paths.path_params: keep  \";params\" are part of the segment they are in "
                      "(a backend that strips them may serve another route than the one counted)");
  return out;
}

}  // namespace sluice::config
