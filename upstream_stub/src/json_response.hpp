// Building the stub's JSON responses.
#pragma once

#include "stub_net.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace sluice::stub {

/// The response type every buffered handler returns.
using string_response = http::response<http::string_body>;

/// `body` serialized the way every stub answer is: compact, invalid UTF-8 replaced, never throws.
std::string json_text(const nlohmann::json& body);

/// A response with a JSON body and Content-Type application/json; the session fills in version,
/// keep-alive and Content-Length.
string_response json_response(http::status status, const nlohmann::json& body);

/// The Server header value, "upstream-stub/<version>".
std::string_view server_header();

/// `{"error": message}` plus any extra members of `details`.
string_response error_response(http::status status, std::string_view message,
                               nlohmann::json details = nlohmann::json::object());

}  // namespace sluice::stub
