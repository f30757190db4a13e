#pragma once
// "did you mean ...?" for misspelt keys and values.

#include <optional>
#include <span>
#include <string_view>

namespace sluice::config {

/// The known word closest to `word` when it is close enough to be a slip of the fingers
/// (case, a dropped, extra, wrong or swapped letter); nullopt otherwise.
std::optional<std::string_view> closest_word(std::string_view word,
                                             std::span<const std::string_view> known);

}  // namespace sluice::config
