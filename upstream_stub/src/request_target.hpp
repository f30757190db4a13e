// The parts of a request target that handlers look at: path, query and a route's trailing segment.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::stub {

/// Views into a request target; the session keeps the text alive while the handler runs.
struct request_target {
  /// Everything before '?', e.g. "/api/jobs/12".
  std::string_view path;
  /// Everything after '?', without it; empty when absent.
  std::string_view query;
  /// For a prefix route such as "/api/jobs/", the rest of the path ("12"); empty otherwise.
  std::string_view tail;

  /// Splits a target at the first '?'.
  static request_target parse(std::string_view target);
  /// The raw value of the first "name=value" pair in the query; nullopt when absent.
  std::optional<std::string_view> query_value(std::string_view name) const;
};

/// Parses a whole decimal string as an unsigned number; nullopt for empty, signs, junk or overflow.
std::optional<std::uint64_t> parse_unsigned(std::string_view text);

}  // namespace sluice::stub
