#pragma once
// HTTP tokens (RFC 9110 section 5.6.2): what method and header names are made of.

#include <string>
#include <string_view>

namespace sluice::config {

/// True when `text` is a non-empty run of tchar (letters, digits, !#$%&'*+-.^_`|~).
bool is_http_token(std::string_view text);
/// ASCII lower-case copy (header names compare case-insensitively).
std::string ascii_lower(std::string_view text);
/// ASCII upper-case copy (methods are written upper-case).
std::string ascii_upper(std::string_view text);

}  // namespace sluice::config
