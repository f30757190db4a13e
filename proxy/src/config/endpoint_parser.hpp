#pragma once
// host:port text: "127.0.0.1:8080", "[::1]:8080", "backend.internal:9000".

#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace sluice::config {

/// Whether the host part may be a DNS name or must be an IP literal.
enum class host_rule {
  ip_literal,       ///< listeners: binding to a name would depend on resolution at start; port 0 ok
  ip_or_hostname,   ///< the upstream may be a name
};

/// Parses host:port; IPv6 goes in brackets and is stored without them. Port 1..65535, or
/// 0..65535 for listeners (0: any free port).
/// nullopt with `error` set when malformed.
std::optional<endpoint> parse_endpoint(std::string_view text, host_rule rule,
                                       std::string* error = nullptr);

/// host:port with IPv6 put back in brackets.
std::string format_endpoint(const endpoint& e);

}  // namespace sluice::config
