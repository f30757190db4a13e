#pragma once
// Rate text as operators write it: "60/minute", "10/s", "5/30s", "100/1m30s".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace sluice::config {

/// Largest count a rate may have; well past any real per-key limit, far from overflow.
inline constexpr std::uint64_t max_rate_count = 1'000'000'000;
/// Longest period a rate may have; longer windows are better served by quotas than rate limits.
inline constexpr duration max_rate_period = std::chrono::hours(24 * 365);
/// Largest count for sliding_window: its exact log keeps one timestamp per admission and key.
inline constexpr std::uint64_t max_sliding_window_count = 100'000;

/// Parses COUNT/PERIOD where PERIOD is a unit (second, minute, hour, day, their plurals, or
/// s, m, h, d) or a duration ("30s", "1m30s"). nullopt with `error` set when malformed.
std::optional<rate> parse_rate(std::string_view text, std::string* error = nullptr);

/// Text parse_rate reads back as `r`: "60/minute" for whole units, else "5/30s".
std::string format_rate(const rate& r);

}  // namespace sluice::config
