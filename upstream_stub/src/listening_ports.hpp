// Listening TCP sockets of the host, for GET /api/system/ports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::stub {

/// One listening socket as the kernel lists it.
struct listening_port {
  /// Local port.
  std::uint16_t port = 0;
  /// Local address in text form ("0.0.0.0", "::1").
  std::string address;
  /// "ipv4" or "ipv6".
  std::string family;

  /// Reads /proc/net/tcp and /proc/net/tcp6 (state 0A, LISTEN), sorted by port then address.
  static std::vector<listening_port> read_all();
};

}  // namespace sluice::stub
