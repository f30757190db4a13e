#pragma once
// Turns a client-chosen string (an API key header) into the 16 key bytes of a limit_key.
// Keyed with a per-process random secret (SipHash-2-4, twice), so a client cannot craft two
// values that share a counter, nor aim values at one hash bucket.

#include <array>
#include <cstdint>
#include <string_view>

namespace sluice::limiter {

/// 128-bit keyed digest of `value`; stable within one process, different across processes.
std::array<std::uint8_t, 16> value_digest(std::string_view value);

}  // namespace sluice::limiter
