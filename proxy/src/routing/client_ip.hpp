#pragma once
// Who the client is. The socket peer, unless the peer is a trusted proxy: then the forwarding
// headers are read right to left and the first address that is not a trusted proxy is the
// client. Anything a client writes into those headers itself sits further left and is ignored.

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/ip_address.hpp"

namespace sluice::routing {

/// The client address for a request from `peer`. `x_forwarded_for` and `forwarded` hold every
/// instance of those headers in arrival order; X-Forwarded-For wins when both are present.
ip_address client_ip(const ip_address& peer, std::span<const std::string_view> x_forwarded_for,
                     std::span<const std::string_view> forwarded,
                     const std::vector<cidr>& trusted_proxies);

/// True when `addr` lies in one of `trusted_proxies`.
bool is_trusted_proxy(const ip_address& addr, const std::vector<cidr>& trusted_proxies);

/// Parses one X-Forwarded-For element ("1.2.3.4", "1.2.3.4:80", "2001:db8::1", "[2001:db8::1]:80").
std::optional<ip_address> parse_forwarded_for_element(std::string_view element);

/// Parses the for= value of one Forwarded element (RFC 7239), e.g. `for="[2001:db8::1]:80"`.
std::optional<ip_address> parse_forwarded_element(std::string_view element);

}  // namespace sluice::routing
