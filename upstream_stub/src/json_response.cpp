#include "json_response.hpp"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace sluice::stub {

std::string_view server_header() { return "upstream-stub/" SLUICE_VERSION; }

std::string json_text(const nlohmann::json& body) {
  // `replace` keeps a stray invalid UTF-8 byte (from a header or a username) from throwing here.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

string_response json_response(http::status status, const nlohmann::json& body) {
  string_response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = json_text(body);
  return res;
}

string_response error_response(http::status status, std::string_view message,
                               nlohmann::json details) {
  details["error"] = message;
  return json_response(status, details);
}

}  // namespace sluice::stub
