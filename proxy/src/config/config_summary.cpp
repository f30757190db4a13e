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
  return out;
}

std::string summarize(const route& r) {
  std::string out = r.name + "  " + std::string(to_string(r.match)) + " " + r.pattern + "  ";
  if (r.methods.empty()) {
    out += "ANY";
  } else {
    for (std::size_t i = 0; i < r.methods.size(); ++i) out += (i ? "," : "") + r.methods[i];
  }
  if (r.exempt) return out + "  exempt";
  if (r.limits.empty()) return out + "  no limits";
  for (std::size_t i = 0; i < r.limits.size(); ++i) out += (i ? "; " : "  ") + summarize(r.limits[i]);
  return out;
}

}  // namespace sluice::config
