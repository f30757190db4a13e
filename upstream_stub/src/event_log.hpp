// One-line-per-event log on stderr, shared by every thread.
#pragma once

#include <string_view>

namespace sluice::stub {

/// Writes whole lines to stderr so lines from concurrent sessions never interleave.
class event_log {
 public:
  /// Writes "<UTC time> upstream-stub: <text>" as one line.
  static void write(std::string_view text);
};

}  // namespace sluice::stub
