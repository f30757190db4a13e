#include "net/admin_api.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>

#include "config/config_json.hpp"
#include "limiter/clock.hpp"
#include "net/limit_explainer.hpp"
#include "routing/key_builder.hpp"

namespace sluice::net {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// A readiness probe must answer before the orchestrator's own timeout (often 1 s).
constexpr auto ready_connect_cap = std::chrono::milliseconds(900);
// Token failures are counted per peer in windows of a minute (admin.token_failures_per_minute);
// the table of peers is bounded, past it peers share one count (failure_throttle).
constexpr auto token_failure_window = std::chrono::minutes(1);
constexpr std::size_t max_token_failure_peers = 4096;

admin_api::response json_response(const admin_api::request& req, http::status status,
                                  const nlohmann::json& body) {
  admin_api::response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = body.dump(2) + "\n";
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

admin_api::response error_response(const admin_api::request& req, http::status status,
                                   const std::string& message) {
  return json_response(req, status, {{"error", message}});
}

// Equal-length comparison whose time does not depend on where the first difference is.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

admin_api::admin_api(shared_state& shared, metrics::exposition& exposition,
                     std::function<reload_result()> reload, std::string token)
    : shared_(shared),
      exposition_(exposition),
      reload_(std::move(reload)),
      token_(std::move(token)),
      token_failures_(limiter::to_ns(token_failure_window), max_token_failure_peers) {}

asio::awaitable<admin_api::response> admin_api::handle(const request& req, const ip_address& peer) {
  const auto url = boost::urls::parse_origin_form(req.target());
  if (!url) co_return error_response(req, http::status::bad_request, "malformed request target");
  const std::string path = url->path();
  const bool read = req.method() == http::verb::get || req.method() == http::verb::head;

  auto only = [&](const char* allow) {
    auto res = error_response(req, http::status::method_not_allowed,
                              std::string("method not allowed; use ") + allow);
    res.set(http::field::allow, allow);
    return res;
  };

  if (path == "/reload") {
    if (req.method() != http::verb::post) co_return only("POST");
    co_return reload(req, peer);
  }
  if (path != "/metrics" && path != "/healthz" && path != "/readyz" && path != "/config" &&
      path != "/limits") {
    co_return json_response(
        req, http::status::not_found,
        {{"error", "no such admin endpoint"},
         {"endpoints", {"/metrics", "/healthz", "/readyz", "/config", "/limits", "/reload"}}});
  }
  if (!read) co_return only("GET, HEAD");

  if (path == "/healthz") co_return json_response(req, http::status::ok, {{"status", "ok"}});
  if (path == "/readyz") co_return co_await ready(req);
  if (path == "/config") {
    co_return json_response(req, http::status::ok, config::to_json(shared_.snapshot()->cfg()));
  }
  if (path == "/limits") co_return limits(req, url->params());

  // /metrics
  if (!shared_.snapshot()->cfg().metrics.enabled)
    co_return error_response(req, http::status::not_found, "metrics are off (metrics.enabled: false)");
  response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.body() = exposition_.text();
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  co_return res;
}

// Ready: a config is loaded (always, once serving) and the upstream accepts a connection now.
asio::awaitable<admin_api::response> admin_api::ready(const request& probe_req) {
  const auto snap = shared_.snapshot();
  const auto& up = snap->cfg().upstream;
  const std::string where = up.address.host + ":" + std::to_string(up.address.port);
  auto ex = co_await asio::this_coro::executor;

  tcp::resolver resolver(ex);
  auto [rec, results] =
      co_await resolver.async_resolve(up.address.host, std::to_string(up.address.port), nothrow);
  if (rec) {
    co_return json_response(probe_req, http::status::service_unavailable,
                            {{"ready", false}, {"upstream", where},
                             {"reason", "cannot resolve upstream: " + rec.message()}});
  }
  tcp::socket socket(ex);
  asio::steady_timer timer(ex);
  const auto limit = std::min<std::chrono::nanoseconds>(up.connect_timeout, ready_connect_cap);
  timer.expires_after(limit);
  bool timed_out = false;
  timer.async_wait([&](boost::system::error_code ec) {
    if (!ec) {
      timed_out = true;
      boost::system::error_code ignored;
      socket.close(ignored);
    }
  });
  const auto started = std::chrono::steady_clock::now();
  auto [cec, endpoint] = co_await asio::async_connect(socket, results, nothrow);
  timer.cancel();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (cec) {
    co_return json_response(
        probe_req, http::status::service_unavailable,
        {{"ready", false}, {"upstream", where},
         {"reason", timed_out ? std::string("upstream connect timed out")
                              : "upstream connect failed: " + cec.message()}});
  }
  boost::system::error_code ignored;
  socket.close(ignored);
  co_return json_response(probe_req, http::status::ok,
                          {{"ready", true}, {"upstream", where}, {"upstream_connect_ms", ms}});
}

admin_api::response admin_api::limits(const request& req, boost::urls::params_view params) {
  described_request d;
  bool have_ip = false, have_path = false;
  for (const auto& p : params) {
    if (p.key == "ip") {
      d.ip = p.value;
      have_ip = true;
    } else if (p.key == "path") {
      d.path = p.value;
      have_path = true;
    } else if (p.key == "method") {
      d.method = p.value;
      for (auto& c : d.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    } else if (p.key == "header") {
      // "Name: value" (or "Name=value"), for per-header limits.
      const std::string v = p.value;
      const auto sep = v.find_first_of(":=");
      if (sep == std::string::npos)
        return error_response(req, http::status::bad_request,
                              "header: expected \"Name: value\", got \"" + v + "\"");
      std::string value = v.substr(sep + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      d.headers.emplace_back(v.substr(0, sep), value);
    } else {
      return error_response(req, http::status::bad_request,
                            "unknown parameter \"" + std::string(p.key) +
                                "\" (ip, path, method, header)");
    }
  }
  if (!have_ip || !have_path) {
    return error_response(req, http::status::bad_request,
                          "ip and path are required, e.g. "
                          "/limits?ip=203.0.113.7&path=/api/system/stats&method=GET");
  }
  bool ok = false;
  auto body = explain_limits(*shared_.snapshot(), shared_.limiter(), d,
                             limiter::steady_clock_source::now(), ok);
  return json_response(req, ok ? http::status::ok : http::status::bad_request, body);
}

bool admin_api::authorized(const request& req) const {
  const std::string_view auth = req[http::field::authorization];
  constexpr std::string_view scheme = "Bearer ";
  if (auth.size() <= scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(auth[i])) !=
        std::tolower(static_cast<unsigned char>(scheme[i])))
      return false;
  return same_secret(auth.substr(scheme.size()), token_);
}

admin_api::response admin_api::reload(const request& req, const ip_address& peer) {
  if (token_.empty()) {
    return error_response(req, http::status::forbidden,
                          "mutating admin endpoints are off: no token configured (set "
                          "admin.token_env and that environment variable)");
  }
  const auto snap = shared_.snapshot();
  const ip_address key = routing::key_address(peer, snap->cfg().client_ip.ipv6_prefix);
  const auto now = limiter::steady_clock_source::now();
  {
    // A peer past its failures is answered without the token being looked at: guessing gets
    // no faster by sending more, and the comparison's timing is not on offer either.
    std::lock_guard lock(throttle_mu_);
    const auto wait =
        token_failures_.throttled_for(key, snap->cfg().admin.token_failures_per_minute, now);
    if (wait > 0) {
      exposition_.admin_refused(metrics::admin_refusal::token_throttled);
      const auto seconds = (wait + 999'999'999) / 1'000'000'000;
      auto res = error_response(req, http::status::too_many_requests,
                                "too many wrong tokens from this address; try again later");
      res.set(http::field::retry_after, std::to_string(seconds));
      return res;
    }
  }
  if (!authorized(req)) {
    exposition_.admin_refused(metrics::admin_refusal::token);
    // Only a credential counts against the peer: a call without one guessed nothing.
    if (req.find(http::field::authorization) != req.end()) {
      std::lock_guard lock(throttle_mu_);
      token_failures_.failed(key, now);
    }
    auto res = error_response(req, http::status::unauthorized, "missing or wrong bearer token");
    res.set(http::field::www_authenticate, "Bearer realm=\"sluice-admin\"");
    return res;
  }
  const reload_result r = reload_();
  if (!r.ok) {
    return json_response(req, http::status::unprocessable_entity,
                         {{"reloaded", false}, {"error", r.message},
                          {"note", "the running config is unchanged"}});
  }
  return json_response(req, http::status::ok, {{"reloaded", true}, {"message", r.message}});
}

}  // namespace sluice::net
