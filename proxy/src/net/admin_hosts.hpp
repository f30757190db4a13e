#pragma once
// Which Host an admin request may name. A DNS-rebinding page reaches a loopback listener under
// the attacker's own name (Host: evil.example:9901), so the admin listener answers only the
// names it is told (admin.hosts) and an IP literal of the very address the connection reached
// (a browser sends an IP literal only when it connected to that IP: no rebinding is possible).
// Pure, header-only so its tests link no networking.

#include <span>
#include <string>
#include <string_view>

#include "common/ip_address.hpp"

namespace sluice::net {

/// The host part of a Host field value, lower-cased, without its port ("[::1]" keeps its
/// brackets); empty when the value is malformed (a port that is not digits, an unclosed "[").
inline std::string admin_host_name(std::string_view field) {
  std::string_view host = field;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return {};
    port = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!port.empty() && port.front() != ':') return {};
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon);
    host = host.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return {};  // unbracketed IPv6
  }
  if (!port.empty()) {
    port.remove_prefix(1);  // the ':'
    if (port.empty()) return {};
    for (const char c : port)
      if (c < '0' || c > '9') return {};
  }
  std::string out(host);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

/// True when `field` (the request's Host value) names one of `hosts` (as stored by the config
/// loader: lower-case, no port, IPv6 bracketed) or is an IP literal equal to `local`, the
/// address the connection reached. An empty or malformed value is never served (a request with
/// no Host field at all is the caller's to judge: no browser sends one).
inline bool admin_host_served(std::string_view field, std::span<const std::string> hosts,
                              const ip_address& local) {
  const std::string host = admin_host_name(field);
  if (host.empty()) return false;
  for (const auto& h : hosts)
    if (h == host) return true;
  std::string_view literal = host;
  if (literal.front() == '[') literal = literal.substr(1, literal.size() - 2);
  const auto ip = ip_address::parse(literal);
  return ip && *ip == local;
}

}  // namespace sluice::net
