#include "config/rate_parser.hpp"

#include <array>
#include <charconv>

#include "config/duration_parser.hpp"

namespace sluice::config {
namespace {

using namespace std::chrono_literals;

struct named_period {
  std::string_view name;
  duration period;
};

constexpr std::array<named_period, 12> period_names{{
    {"second", 1s}, {"seconds", 1s}, {"s", 1s},
    {"minute", 1min}, {"minutes", 1min}, {"m", 1min},
    {"hour", 1h}, {"hours", 1h}, {"h", 1h},
    {"day", 24h}, {"days", 24h}, {"d", 24h},
}};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<rate> parse_rate(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<rate> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    return fail("expected COUNT/PERIOD, such as 60/minute or 5/30s");
  }
  const std::string_view count_text = trim(text.substr(0, slash));
  const std::string_view period_text = trim(text.substr(slash + 1));

  rate out;
  const auto [end, ec] =
      std::from_chars(count_text.data(), count_text.data() + count_text.size(), out.count);
  if (count_text.empty() || end != count_text.data() + count_text.size() ||
      (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
    return fail("count before \"/\" is not a whole number");
  }
  if (ec == std::errc::result_out_of_range || out.count == 0 || out.count > max_rate_count) {
    return fail("count must be between 1 and " + std::to_string(max_rate_count));
  }

  if (period_text.empty()) {
    return fail("missing period after \"/\" (second, minute, hour, day, or a duration such as 30s)");
  }
  if (period_text.front() >= '0' && period_text.front() <= '9') {
    std::string why;
    const auto period = parse_duration(period_text, &why);
    if (!period) return fail(why);
    if (period->count() == 0) return fail("period must be greater than zero");
    out.period = *period;
  } else {
    std::size_t i = 0;
    while (i < period_names.size() && period_names[i].name != period_text) ++i;
    if (i == period_names.size()) return fail("unknown unit (second, minute, hour, day)");
    out.period = period_names[i].period;
  }
  if (out.period > max_rate_period) return fail("period must be at most 1 year (365d)");
  return out;
}

std::string format_rate(const rate& r) {
  const std::string count = std::to_string(r.count) + "/";
  if (r.period == 1s) return count + "second";
  if (r.period == 1min) return count + "minute";
  if (r.period == 1h) return count + "hour";
  if (r.period == 24h) return count + "day";
  return count + format_duration(r.period);
}

}  // namespace sluice::config
