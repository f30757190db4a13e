#pragma once
// Duration text as operators write it: "30s", "250ms", "1.5s", "1m30s", "2h", "1d".

#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace sluice::config {

/// Parses one or more "<number><unit>" parts (units ms, s, m, h, d, largest first, each once);
/// the number may carry decimals. nullopt with `error` set when malformed. Zero parses: whether
/// zero makes sense is the caller's call.
std::optional<duration> parse_duration(std::string_view text, std::string* error = nullptr);

/// Shortest text parse_duration reads back as `d`: "1m30s", "250ms", "0s".
std::string format_duration(duration d);

}  // namespace sluice::config
