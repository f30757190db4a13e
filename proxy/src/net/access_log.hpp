#pragma once
// The JSON access log: one line per request. Workers format lines into their own buffer and
// hand whole buffers to the shared sink, so the request path takes no lock and makes no syscall.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace sluice::net {

/// What one access-log line says.
struct access_record {
  std::string_view client;      ///< client IP as text
  std::string_view method;
  std::string_view path;        ///< request target as received
  std::string_view route;       ///< route name
  std::string_view decision;    ///< allowed, limited, exempt, error
  std::string_view request_id;
  unsigned status = 0;
  double upstream_ms = -1;      ///< negative: no upstream work
  double total_ms = 0;
};

/// The destination: stdout or a file, shared by all workers.
class access_log_sink {
 public:
  /// Opens `target` ("stdout" or a file path, appended to); throws std::runtime_error.
  explicit access_log_sink(const std::string& target);
  ~access_log_sink();
  access_log_sink(const access_log_sink&) = delete;
  access_log_sink& operator=(const access_log_sink&) = delete;

  /// Writes whole lines and flushes them.
  void write(std::string_view lines);

 private:
  std::mutex mu_;
  std::FILE* file_;
  bool owned_;
};

/// A worker's buffer in front of the sink; used from one thread only.
class access_log_buffer {
 public:
  /// `sink` may be null: logging off.
  explicit access_log_buffer(std::shared_ptr<access_log_sink> sink) : sink_(std::move(sink)) {}
  ~access_log_buffer() { flush(); }

  /// True when lines go anywhere.
  bool enabled() const { return sink_ != nullptr; }
  /// Formats one line; writes through once the buffer is large.
  void append(const access_record& r);
  /// Hands buffered lines to the sink (a timer calls this, so lines are late by at most a tick).
  void flush();

 private:
  std::shared_ptr<access_log_sink> sink_;
  std::string buf_;
};

}  // namespace sluice::net
