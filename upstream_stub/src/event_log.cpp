#include "event_log.hpp"

#include "timestamp.hpp"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

namespace sluice::stub {

void event_log::write(std::string_view text) {
  std::string line = iso8601_utc(std::chrono::system_clock::now());
  line += " upstream-stub: ";
  line += text;
  line += '\n';
  // One fwrite under a lock: stdio locks per call already, the mutex just makes the intent plain
  // and keeps the line whole if stderr is ever switched to an unlocked writer.
  static std::mutex lock;
  const std::scoped_lock guard(lock);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace sluice::stub
