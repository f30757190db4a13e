#include "websocket_api.hpp"

#include <boost/beast/core/string.hpp>

namespace sluice::stub {

namespace {

/// The token of an `Authorization: Bearer TOKEN` field; empty when the field is absent or another
/// scheme.
std::string_view bearer_token(std::string_view field) {
  constexpr std::string_view scheme = "bearer ";
  if (field.size() <= scheme.size() || !beast::iequals(field.substr(0, scheme.size()), scheme)) {
    return {};
  }
  field.remove_prefix(scheme.size());
  while (!field.empty() && field.front() == ' ') {
    field.remove_prefix(1);
  }
  while (!field.empty() && field.back() == ' ') {
    field.remove_suffix(1);
  }
  return field;
}

}  // namespace

websocket_api::websocket_api(stub_counters& counters, const stats_sampler& sampler,
                             const issued_tokens& tokens, websocket_settings settings)
    : counters_(counters), sampler_(sampler), tokens_(tokens), settings_(settings) {}

void websocket_api::add_routes(router& routes) {
  const auto endpoint = [this](bool token_required) -> streaming_handler {
    return [this, token_required](http_exchange& exchange, const request_target& target) {
      return open(exchange, target, token_required);
    };
  };
  routes.add({"/ws", false, {http::verb::get}, endpoint(false)});
  routes.add({"/api/system/ws", false, {http::verb::get}, endpoint(true)});
  routes.add({"/api/system/metrics", false, {http::verb::get}, endpoint(false)});
  routes.add({"/api/ws/stats",
              false,
              {http::verb::get},
              buffered_handler([this](const buffered_request& req, const request_target& target) {
                return stats(req, target);
              })});
}

net::awaitable<exchange_result> websocket_api::open(http_exchange& exchange,
                                                    const request_target& target,
                                                    bool token_required) {
  const auto& req = exchange.request();
  // The token is checked first, so an unauthenticated client learns nothing else about the path.
  if (token_required && !authorized(req, target)) {
    auto refusal = error_response(http::status::unauthorized,
                                  "a token from POST /api/auth/login is required "
                                  "(Authorization: Bearer TOKEN or ?token=TOKEN)",
                                  {{"success", false}});
    refusal.set(http::field::www_authenticate, "Bearer");
    co_return co_await exchange.respond(std::move(refusal));
  }
  if (!websocket::is_upgrade(req)) {
    auto refusal = error_response(http::status::upgrade_required, "this path speaks WebSocket only",
                                  {{"path", std::string(target.path)}});
    refusal.set(http::field::upgrade, "websocket");
    co_return co_await exchange.respond(std::move(refusal));
  }
  // An upgrade request has no body, and a client must wait for the 101 before it sends frames
  // (RFC 6455 4.1); Beast's stream could not be handed bytes already read, so refuse rather than
  // lose them.
  if (!exchange.header_parser().is_done() || exchange.buffer().size() > 0) {
    auto refusal = error_response(http::status::bad_request,
                                  "nothing may follow a WebSocket upgrade request before the 101");
    refusal.keep_alive(false);
    co_return co_await exchange.respond(std::move(refusal));
  }
  co_return co_await websocket_session::serve(exchange, std::string(target.path), counters_,
                                              sampler_, settings_);
}

net::awaitable<string_response> websocket_api::stats(const buffered_request&,
                                                     const request_target&) {
  const nlohmann::json body = {
      {"open", counters_.websockets_open.load(std::memory_order_relaxed)},
      {"total", counters_.websockets_total.load(std::memory_order_relaxed)}};
  co_return json_response(http::status::ok, body);
}

bool websocket_api::authorized(const http::request<http::empty_body>& req,
                               const request_target& target) const {
  if (tokens_.valid(bearer_token(req[http::field::authorization]))) {
    return true;
  }
  const auto query_token = target.query_value("token");
  return query_token && tokens_.valid(*query_token);
}

}  // namespace sluice::stub
