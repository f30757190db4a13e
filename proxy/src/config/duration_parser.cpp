#include "config/duration_parser.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace sluice::config {
namespace {

struct unit {
  std::string_view name;
  std::int64_t nanoseconds;
};

// Largest first: a combined duration must use them in this order, each at most once, so that
// "1m30s" reads one way only and "30s1m" (almost certainly a slip) is refused.
constexpr std::array<unit, 5> units{{
    {"d", 86'400'000'000'000},
    {"h", 3'600'000'000'000},
    {"m", 60'000'000'000},
    {"s", 1'000'000'000},
    {"ms", 1'000'000},
}};

constexpr std::string_view unit_list = "(ms, s, m, h, d)";

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

std::optional<duration> parse_duration(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<duration> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  if (text.empty()) return fail("empty duration");

  constexpr std::int64_t max_ns = std::numeric_limits<std::int64_t>::max();
  std::int64_t total = 0;
  std::size_t previous_unit = 0;  // index into units + 1; 0 before the first part
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (!is_digit(text[pos])) {
      return fail(std::string("expected a number followed by a unit ") + std::string(unit_list));
    }
    // Whole part: at most 18 digits, so it fits an int64 before any scaling.
    std::int64_t whole = 0;
    std::size_t digits = 0;
    for (; pos < text.size() && is_digit(text[pos]); ++pos, ++digits) {
      if (digits == 18) return fail("number too large");
      whole = whole * 10 + (text[pos] - '0');
    }
    std::string_view fraction;
    if (pos < text.size() && text[pos] == '.') {
      const std::size_t start = ++pos;
      while (pos < text.size() && is_digit(text[pos])) ++pos;
      fraction = text.substr(start, pos - start);
      if (fraction.empty()) return fail("malformed number: no digits after the decimal point");
      if (fraction.size() > 9) return fail("too many decimals (at most 9)");
    }
    const std::size_t unit_start = pos;
    while (pos < text.size() && is_letter(text[pos])) ++pos;
    const std::string_view name = text.substr(unit_start, pos - unit_start);
    if (name.empty()) {
      if (pos == text.size()) return fail(std::string("missing unit ") + std::string(unit_list));
      return fail("unexpected \"" + std::string(1, text[pos]) + "\" after a number; expected a unit " +
                  std::string(unit_list));
    }
    std::size_t index = 0;
    while (index < units.size() && units[index].name != name) ++index;
    if (index == units.size()) {
      return fail("unknown unit \"" + std::string(name) + "\" " + std::string(unit_list));
    }
    if (previous_unit != 0 && index + 1 <= previous_unit) {
      return fail("units must go from largest to smallest, each once (e.g. 1m30s)");
    }
    previous_unit = index + 1;

    const std::int64_t scale = units[index].nanoseconds;
    if (whole > (max_ns - total) / scale) return fail("duration too large");
    std::int64_t part = whole * scale;
    // Each decimal digit adds digit * scale / 10^k; digits finer than a nanosecond drop out.
    std::int64_t place = scale;
    for (const char c : fraction) {
      place /= 10;
      part += (c - '0') * place;
    }
    if (part > max_ns - total) return fail("duration too large");
    total += part;
  }
  return duration(total);
}

std::string format_duration(duration d) {
  std::int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string out;
  if (ns < 0) {
    out += '-';
    ns = -ns;
  }
  for (const unit& u : units) {
    if (u.name == "ms") break;
    if (ns >= u.nanoseconds) {
      out += std::to_string(ns / u.nanoseconds) + std::string(u.name);
      ns %= u.nanoseconds;
    }
  }
  if (ns == 0) return out;
  // What is left is under a second: whole milliseconds, or milliseconds with decimals.
  const std::int64_t ms = ns / 1'000'000;
  const std::int64_t rest = ns % 1'000'000;
  out += std::to_string(ms);
  if (rest != 0) {
    std::string decimals = std::to_string(rest);
    decimals.insert(0, 6 - decimals.size(), '0');
    while (decimals.back() == '0') decimals.pop_back();
    out += '.' + decimals;
  }
  return out + "ms";
}

}  // namespace sluice::config
