#pragma once
// Open-WebSocket counts behind the connection caps: per client key and route, per route, and
// in total. A slot is taken before the handshake and given back exactly once when the
// connection ends, however it ends. Pure: no I/O, thread-safe.

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/ip_address.hpp"

namespace sluice::limiter {

/// Which cap refused a WebSocket.
enum class websocket_refusal { none, per_ip, per_route, global };

/// The caps one acquire is judged against (0: no cap).
struct websocket_caps {
  std::uint32_t per_ip = 0;
  std::uint32_t per_route = 0;
  std::uint32_t global = 0;
};

/// The open counts; shared by every worker.
class websocket_slots {
 public:
  /// Takes a slot for `key` on `route` if no cap is reached; the refusing cap otherwise (the
  /// global cap is checked first, then the route's, then the key's).
  websocket_refusal acquire(std::string_view route, const ip_address& key,
                            const websocket_caps& caps);
  /// Gives back a slot acquire() took. Call exactly once per successful acquire.
  void release(std::string_view route, const ip_address& key);

  /// Open WebSockets in total.
  std::uint64_t open() const;
  /// Open WebSockets by route name (routes that ever had one, zeros included).
  std::vector<std::pair<std::string, std::uint64_t>> open_by_route() const;
  /// Open WebSockets of `key` on `route`.
  std::uint32_t open_for(std::string_view route, const ip_address& key) const;

 private:
  struct key_hash {
    std::size_t operator()(const ip_address& a) const;
  };
  struct route_entry {
    std::uint64_t open = 0;
    std::unordered_map<ip_address, std::uint32_t, key_hash> per_key;  // only keys with slots
  };

  mutable std::mutex mu_;
  std::uint64_t open_ = 0;
  std::unordered_map<std::string, route_entry> routes_;
};

}  // namespace sluice::limiter
