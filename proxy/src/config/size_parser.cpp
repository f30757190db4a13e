#include "config/size_parser.hpp"

#include <array>
#include <charconv>
#include <limits>

namespace sluice::config {
namespace {

struct size_unit {
  std::string_view name;
  std::uint64_t bytes;
};

// Binary units only: "MB" is ambiguous (10^6 or 2^20) and a cap should mean one thing.
constexpr std::array<size_unit, 4> size_units{{
    {"B", 1}, {"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024 * 1024 * 1024}}};

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<std::uint64_t> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (end == text.data()) return fail("expected a number of bytes, optionally with KiB, MiB or GiB");
  if (ec == std::errc::result_out_of_range) return fail("size too large");
  std::string_view suffix = text.substr(static_cast<std::size_t>(end - text.data()));
  while (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);
  if (suffix.empty()) return value;
  for (const size_unit& u : size_units) {
    if (u.name != suffix) continue;
    if (value > std::numeric_limits<std::uint64_t>::max() / u.bytes) return fail("size too large");
    return value * u.bytes;
  }
  return fail("unknown unit \"" + std::string(suffix) + "\" (KiB, MiB, GiB, or a plain number of bytes)");
}

std::string format_size(std::uint64_t bytes) {
  for (auto u = size_units.rbegin(); u != size_units.rend(); ++u) {
    if (u->bytes > 1 && bytes != 0 && bytes % u->bytes == 0) {
      return std::to_string(bytes / u->bytes) + std::string(u->name);
    }
  }
  return std::to_string(bytes);
}

}  // namespace sluice::config
