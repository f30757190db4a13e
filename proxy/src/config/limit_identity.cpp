#include "config/limit_identity.hpp"

namespace sluice::config {
namespace {

class fnv1a {
 public:
  void bytes(std::string_view data) {
    for (const char c : data) {
      hash_ ^= static_cast<std::uint8_t>(c);
      hash_ *= prime;
    }
    // A terminator keeps ("ab", "c") apart from ("a", "bc").
    byte(0xff);
  }
  // Little-endian whatever the host, so an id means the same on every machine.
  void number(std::uint64_t value) {
    for (int i = 0; i < 8; ++i) byte(static_cast<std::uint8_t>(value >> (8 * i)));
  }
  std::uint64_t value() const { return hash_; }

 private:
  static constexpr std::uint64_t offset_basis = 14695981039346656037ull;
  static constexpr std::uint64_t prime = 1099511628211ull;

  void byte(std::uint8_t b) {
    hash_ ^= b;
    hash_ *= prime;
  }

  std::uint64_t hash_ = offset_basis;
};

}  // namespace

std::uint64_t limit_identity(std::string_view route_name, std::size_t index, const limit& l) {
  fnv1a h;
  h.bytes(route_name);
  h.number(index);
  h.number(static_cast<std::uint64_t>(l.per));
  h.bytes(l.header);
  h.number(l.rate ? 1 : 0);
  h.number(l.rate ? l.rate->count : 0);
  h.number(l.rate ? static_cast<std::uint64_t>(l.rate->period.count()) : 0);
  h.number(static_cast<std::uint64_t>(l.algo));
  h.number(l.burst);
  h.number(l.max_in_flight);
  return h.value();
}

std::uint64_t websocket_identity(std::string_view route_name, const websocket_settings& ws) {
  fnv1a h;
  // A leading tag no route name can equal (names have no spaces): a block never hashes the same
  // bytes as a limit, so only a 64-bit collision could give the two the same id.
  h.bytes("websocket block");
  h.bytes(route_name);
  h.number(ws.max_connections_per_ip);
  h.number(ws.max_connections);
  h.number(ws.messages_per_ip ? 1 : 0);
  h.number(ws.messages_per_ip ? ws.messages_per_ip->count : 0);
  h.number(ws.messages_per_ip ? static_cast<std::uint64_t>(ws.messages_per_ip->period.count()) : 0);
  h.number(static_cast<std::uint64_t>(ws.on_message_limit));
  h.number(static_cast<std::uint64_t>(ws.idle_timeout.count()));
  h.number(ws.max_message_bytes);
  h.number(ws.max_queued_bytes);
  return h.value();
}

}  // namespace sluice::config
