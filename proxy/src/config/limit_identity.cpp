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

std::uint64_t limit_identity(std::string_view route_name, key_kind per, std::string_view header,
                             std::size_t ordinal) {
  fnv1a h;
  h.bytes(route_name);
  h.number(static_cast<std::uint64_t>(per));
  h.bytes(header);
  h.number(ordinal);
  return h.value();
}

void assign_limit_identities(std::string_view route_name, std::vector<limit>& limits) {
  // The ordinal counts only limits with the same per/header, so adding or removing a limit that
  // counts by something else moves no other limit's identity. Quadratic, over a handful.
  for (std::size_t i = 0; i < limits.size(); ++i) {
    std::size_t ordinal = 0;
    for (std::size_t j = 0; j < i; ++j)
      if (limits[j].per == limits[i].per && limits[j].header == limits[i].header) ++ordinal;
    limits[i].id = limit_identity(route_name, limits[i].per, limits[i].header, ordinal);
  }
}

std::uint64_t websocket_identity(std::string_view route_name) {
  fnv1a h;
  // A leading tag no route name can equal (names have no spaces): a block never hashes the same
  // bytes as a limit, so only a 64-bit collision could give the two the same id.
  h.bytes("websocket block");
  h.bytes(route_name);
  return h.value();
}

}  // namespace sluice::config
