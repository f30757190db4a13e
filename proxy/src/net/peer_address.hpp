#pragma once
// An Asio address as sluice's ip_address (IPv4 in its IPv4-mapped form, as everywhere else), so
// an IPv4 client on a dual-stack socket and on a plain IPv4 one is the same key.

#include <algorithm>

#include <boost/asio/ip/address.hpp>

#include "common/ip_address.hpp"

namespace sluice::net {

/// `a` as an ip_address.
inline ip_address to_ip_address(const boost::asio::ip::address& a) {
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    return ip_address::v4(b[0], b[1], b[2], b[3]);
  }
  ip_address out;
  const auto b = a.to_v6().to_bytes();
  std::copy(b.begin(), b.end(), out.bytes.begin());
  return out;
}

}  // namespace sluice::net
