#pragma once
// One algorithm's answer for one key: not a bool, so the proxy can fill 429 bodies and RateLimit
// headers without asking again.

#include <cstdint>

#include "limiter/clock.hpp"

namespace sluice::limiter {

/// The outcome of checking (and possibly consuming) one limit for one key.
struct verdict {
  bool allowed = true;         ///< false: this limit rejects the request
  std::uint64_t quota = 0;     ///< the limit's quota (rate count, burst, or max_in_flight)
  std::uint64_t remaining = 0; ///< admissions left after this one (0 when rejected)
  time_ns reset_ns = 0;        ///< until `remaining` next grows (the oldest admission leaves the window, or a token returns)
  time_ns retry_after_ns = 0;  ///< rejected only: until a retry can succeed
};

}  // namespace sluice::limiter
