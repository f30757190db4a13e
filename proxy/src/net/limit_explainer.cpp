#include "net/limit_explainer.hpp"

#include <boost/beast/core/string.hpp>

#include "config/config_summary.hpp"
#include "routing/admission.hpp"

namespace sluice::net {
namespace {

double seconds(limiter::time_ns ns) { return static_cast<double>(ns) / 1e9; }

const char* per_name(config::key_kind k) {
  switch (k) {
    case config::key_kind::ip: return "ip";
    case config::key_kind::route: return "route";
    case config::key_kind::header: return "header";
  }
  return "?";
}

}  // namespace

nlohmann::json explain_limits(const proxy_snapshot& snap, limiter::limiter& lim,
                              const described_request& req, limiter::time_ns now, bool& ok) {
  ok = false;
  const auto client = ip_address::parse(req.ip);
  if (!client) return {{"error", "ip: \"" + req.ip + "\" is not an IPv4 or IPv6 address"}};
  if (req.path.empty() || (req.path.front() != '/' && !req.path.starts_with("http")))
    return {{"error", "path: must start with \"/\" (the request path, query allowed)"}};
  if (req.method.empty()) return {{"error", "method: empty"}};
  ok = true;

  // The request as the proxy would see it, judged by the proxy's own decision. A described
  // request without a Host gets one, so only what was described can make it malformed.
  std::vector<routing::field_view> fields;
  bool has_host = false;
  for (const auto& [n, v] : req.headers) {
    fields.push_back({n, v});
    if (boost::beast::iequals(n, "host")) has_host = true;
  }
  if (!has_host) fields.push_back({"Host", "localhost"});
  routing::request_view view;
  view.method = req.method;
  view.target = req.path;
  view.fields = fields;
  view.peer = *client;
  routing::admission a;
  routing::decide(view, snap.cfg(), snap.routes(), a);

  nlohmann::json out;
  out["request"] = {{"ip", client->to_string()},
                    {"method", std::string(a.method)},
                    {"path", req.path}};
  if (!a.ok()) {
    out["decision"] = "refused";
    out["status"] = 400;
    out["reason"] = std::string(a.message());
    out["limits"] = nlohmann::json::array();
    return out;
  }
  out["request"]["normalized_path"] = std::string(a.target.path);
  out["request"]["match_path"] = std::string(a.target.match_path);
  if (!(a.client == *client)) out["request"]["client"] = a.client.to_string();
  const config::route& route = *a.route;
  out["route"] = route.name;
  out["exempt"] = route.exempt;
  out["allowlisted"] = a.allowlisted;
  out["limits"] = nlohmann::json::array();
  if (a.exempt) {
    out["decision"] = "exempt";
    return out;
  }
  const ip_address& key_addr = a.key_address;
  const routing::key_list& keys = a.keys;
  const limiter::decision d = lim.peek(route, keys, now);
  out["decision"] = d.allowed() ? "allowed" : "limited";
  for (std::size_t i = 0; i < route.limits.size(); ++i) {
    const auto& l = route.limits[i];
    const auto& v = d.verdicts.at(i);
    nlohmann::json j;
    j["name"] = l.name;
    j["per"] = per_name(l.per);
    switch (l.per) {
      case config::key_kind::ip: j["key"] = key_addr.to_string(); break;
      case config::key_kind::route: j["key"] = route.name; break;
      case config::key_kind::header: {
        bool present = false;
        for (const auto& [n, value] : req.headers)
          if (boost::beast::iequals(n, l.header) && !value.empty()) present = true;
        j["header"] = l.header;
        // The value itself is never echoed: it may be a credential.
        j["key"] = present ? "header value" : key_addr.to_string() + " (header absent)";
        break;
      }
    }
    j["summary"] = config::summarize(l);
    j["allowed"] = v.allowed;
    j["quota"] = v.quota;
    // peek() answers as the next request would see it: `remaining` after that request. The
    // key's standing now is one more, when that request would be admitted.
    j["remaining"] = v.allowed ? v.remaining + 1 : 0;
    j["remaining_after_next"] = v.remaining;
    j["reset_s"] = seconds(v.reset_ns);
    if (!v.allowed) j["retry_after_s"] = seconds(v.retry_after_ns);
    out["limits"].push_back(std::move(j));
  }
  return out;
}

}  // namespace sluice::net
