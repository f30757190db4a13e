// ISO-8601 text for wall-clock times (responses and log lines).
#pragma once

#include <chrono>
#include <string>

namespace sluice::stub {

/// Formats a time as "2025-11-10T18:00:00.123456Z" (UTC, microseconds).
std::string iso8601_utc(std::chrono::system_clock::time_point when);

}  // namespace sluice::stub
