#include "auth_api.hpp"

#include <optional>
#include <string>

namespace sluice::stub {

namespace {

/// Username and password from a JSON body.
struct credentials_body {
  std::string username;
  std::string password;
};

/// Longest username accepted, so one request cannot park megabytes in the user table.
constexpr std::size_t max_username_bytes = 256;

/// The two fields, or nullopt when the body is not a JSON object with two non-empty strings.
std::optional<credentials_body> parse_credentials(const std::string& body) {
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return std::nullopt;
  }
  const auto username = doc.find("username");
  const auto password = doc.find("password");
  if (username == doc.end() || password == doc.end() || !username->is_string() ||
      !password->is_string()) {
    return std::nullopt;
  }
  credentials_body parsed{username->get<std::string>(), password->get<std::string>()};
  if (parsed.username.empty() || parsed.password.empty() ||
      parsed.username.size() > max_username_bytes) {
    return std::nullopt;
  }
  return parsed;
}

string_response bad_credentials_body() {
  return error_response(http::status::bad_request,
                        "body must be a JSON object with non-empty string username and password",
                        {{"success", false}});
}

}  // namespace

auth_api::auth_api(user_store& users, issued_tokens& tokens) : users_(users), tokens_(tokens) {}

void auth_api::add_routes(router& routes) {
  routes.add({"/api/auth/register",
              false,
              {http::verb::post},
              buffered_handler([this](const buffered_request& req, const request_target& target) {
                return register_user(req, target);
              })});
  routes.add({"/api/auth/login",
              false,
              {http::verb::post},
              buffered_handler([this](const buffered_request& req, const request_target& target) {
                return login(req, target);
              })});
}

net::awaitable<string_response> auth_api::register_user(const buffered_request& req,
                                                        const request_target&) {
  const auto creds = parse_credentials(req.body());
  if (!creds) {
    co_return bad_credentials_body();
  }
  if (!users_.add(creds->username, creds->password)) {
    co_return error_response(http::status::conflict, "user already exists",
                             {{"success", false}, {"username", creds->username}});
  }
  const nlohmann::json body = {{"success", true}, {"username", creds->username}};
  co_return json_response(http::status::created, body);
}

net::awaitable<string_response> auth_api::login(const buffered_request& req,
                                                const request_target&) {
  const auto creds = parse_credentials(req.body());
  if (!creds) {
    co_return bad_credentials_body();
  }
  if (!users_.verify(creds->username, creds->password)) {
    co_return error_response(http::status::unauthorized, "invalid username or password",
                             {{"success", false}});
  }
  const nlohmann::json body = {{"success", true}, {"token", tokens_.issue()},
                               {"expires_in", issued_tokens::lifetime().count()}};
  co_return json_response(http::status::ok, body);
}

}  // namespace sluice::stub
