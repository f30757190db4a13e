#include "net/access_log.hpp"

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace sluice::net {
namespace {

constexpr std::size_t flush_bytes = 32 * 1024;

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          // Request targets are client input: never let bytes break the line or the encoding.
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", c);
          out.append(esc);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void append_ms(std::string& out, double ms) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, ms, std::chars_format::fixed, 3);
  out.append(buf, end);
}

}  // namespace

access_log_sink::access_log_sink(const std::string& target) {
  if (target == "stdout") {
    file_ = stdout;
    owned_ = false;
    return;
  }
  file_ = std::fopen(target.c_str(), "a");
  if (file_ == nullptr)
    throw std::runtime_error("access_log: cannot open " + target + ": " + std::strerror(errno));
  owned_ = true;
}

access_log_sink::~access_log_sink() {
  if (owned_) std::fclose(file_);
  else std::fflush(file_);
}

void access_log_sink::write(std::string_view lines) {
  std::lock_guard lock(mu_);
  std::fwrite(lines.data(), 1, lines.size(), file_);
  std::fflush(file_);
}

void access_log_buffer::append(const access_record& r) {
  if (!sink_) return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  buf_.append("{\"time\":\"").append(stamp).append("\",\"client\":");
  append_json_string(buf_, r.client);
  buf_.append(",\"method\":");
  append_json_string(buf_, r.method);
  buf_.append(",\"path\":");
  append_json_string(buf_, r.path);
  buf_.append(",\"route\":");
  append_json_string(buf_, r.route);
  buf_.append(",\"decision\":");
  append_json_string(buf_, r.decision);
  buf_.append(",\"status\":").append(std::to_string(r.status));
  buf_.append(",\"upstream_ms\":");
  if (r.upstream_ms < 0) buf_.append("null");
  else append_ms(buf_, r.upstream_ms);
  buf_.append(",\"total_ms\":");
  append_ms(buf_, r.total_ms);
  buf_.append(",\"request_id\":");
  append_json_string(buf_, r.request_id);
  buf_.append("}\n");
  if (buf_.size() >= flush_bytes) flush();
}

void access_log_buffer::flush() {
  if (!sink_ || buf_.empty()) return;
  sink_->write(buf_);
  buf_.clear();
}

}  // namespace sluice::net
