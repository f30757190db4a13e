#pragma once
// Byte sizes as operators write them: "16384", "16KiB", "10MiB", "1GiB".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::config {

/// Parses a whole number of bytes, optionally followed by KiB, MiB or GiB (binary multiples).
/// nullopt with `error` set when malformed or too large for 64 bits.
std::optional<std::uint64_t> parse_size(std::string_view text, std::string* error = nullptr);

/// Text parse_size reads back as `bytes`: the largest unit that divides it exactly ("64KiB",
/// "1MiB"), else the plain number.
std::string format_size(std::uint64_t bytes);

}  // namespace sluice::config
