#include "config/config_names.hpp"

#include "config/rate_parser.hpp"

namespace sluice::config {

std::string_view to_string(algorithm a) {
  switch (a) {
    case algorithm::sliding_window: return "sliding_window";
    case algorithm::token_bucket: return "token_bucket";
  }
  return "unknown";
}

std::string_view to_string(key_kind k) {
  switch (k) {
    case key_kind::ip: return "ip";
    case key_kind::route: return "route";
    case key_kind::header: return "header";
  }
  return "unknown";
}

std::string_view to_string(match_kind m) {
  switch (m) {
    case match_kind::exact: return "exact";
    case match_kind::prefix: return "prefix";
    case match_kind::glob: return "glob";
  }
  return "unknown";
}

std::string_view to_string(message_limit_action a) {
  switch (a) {
    case message_limit_action::close: return "close";
    case message_limit_action::drop: return "drop";
  }
  return "unknown";
}

std::string describe_key(const limit& l) {
  if (l.per == key_kind::header) return "header " + l.header;
  return std::string(to_string(l.per));
}

std::string derived_limit_name(const limit& l) {
  std::string out;
  if (l.rate) out = format_rate(*l.rate);
  if (l.max_in_flight != 0) {
    if (!out.empty()) out += ", ";
    out += "max_in_flight " + std::to_string(l.max_in_flight);
  }
  return out + " per " + describe_key(l);
}

}  // namespace sluice::config
