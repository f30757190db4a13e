#include "config/endpoint_parser.hpp"

#include <charconv>

#include "common/ip_address.hpp"

namespace sluice::config {
namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
bool is_hostname(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  if (host.back() == '.') host.remove_suffix(1);  // a fully qualified name may end in a dot
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    const std::string_view label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (const char c : label)
      if (!is_alnum(c) && c != '-') return false;
    start = dot + 1;
  }
  return true;
}

bool looks_numeric(std::string_view host) {
  for (const char c : host)
    if (!((c >= '0' && c <= '9') || c == '.')) return false;
  return true;
}

}  // namespace

std::optional<endpoint> parse_endpoint(std::string_view text, host_rule rule, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<endpoint> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  std::string_view host;
  std::string_view port_text;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return fail("missing \"]\" after an IPv6 address");
    host = text.substr(1, close - 1);
    bracketed = true;
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return fail("missing port (expected [ipv6]:port)");
    }
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("missing port (expected host:port)");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail("an IPv6 address goes in brackets, e.g. \"[::1]:8080\"");
    }
  }
  if (host.empty()) return fail("missing host (expected host:port)");

  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || end != port_text.data() + port_text.size() ||
      (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
    return fail("port is not a number");
  }
  // A listener may ask for port 0: the kernel picks a free one and sluice logs which.
  const unsigned lowest = rule == host_rule::ip_literal ? 0 : 1;
  if (ec == std::errc::result_out_of_range || port < lowest || port > 65535) {
    return fail(lowest == 0 ? "port must be between 0 and 65535" : "port must be between 1 and 65535");
  }

  const auto address = ip_address::parse(host);
  if (bracketed && (!address || address->is_v4())) {
    return fail("brackets hold an IPv6 address only");
  }
  if (!address) {
    if (rule == host_rule::ip_literal) {
      return fail("host must be an IP address (e.g. 127.0.0.1 or [::1]), not a name");
    }
    if (looks_numeric(host) || !is_hostname(host)) {
      return fail("host is neither an IP address nor a valid host name");
    }
  }
  return endpoint{std::string(host), static_cast<std::uint16_t>(port)};
}

std::string format_endpoint(const endpoint& e) {
  const bool v6 = e.host.find(':') != std::string::npos;
  return (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
}

}  // namespace sluice::config
