#pragma once
// Event log: one line per event on stderr, "<UTC time> <level> <message>". Whole lines are
// written with one call, so lines from different threads never interleave.

#include <string_view>

namespace sluice {

/// Severity of an event line.
enum class log_level { info, warn, error };

/// Writes one event line to stderr.
void log_event(log_level level, std::string_view message);

}  // namespace sluice
