// The seed's account endpoints: /api/auth/register and /api/auth/login.
#pragma once

#include "issued_tokens.hpp"
#include "router.hpp"
#include "user_store.hpp"

namespace sluice::stub {

/// Registration and login against an in-memory user_store.
class auth_api {
 public:
  /// Keeps references; the stores outlive the server.
  auth_api(user_store& users, issued_tokens& tokens);
  /// Registers the routes of this API.
  void add_routes(router& routes);

 private:
  /// POST /api/auth/register: 201, 400 (bad JSON or fields) or 409 (name taken).
  net::awaitable<string_response> register_user(const buffered_request& req,
                                                const request_target& target);
  /// POST /api/auth/login: 200 with a token, 400 or 401.
  net::awaitable<string_response> login(const buffered_request& req, const request_target& target);

  /// Accounts; thread-safe on its own.
  user_store& users_;
  /// Where login tokens are recorded, so /api/system/ws can check them; thread-safe on its own.
  issued_tokens& tokens_;
};

}  // namespace sluice::stub
