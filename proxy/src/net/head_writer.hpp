#pragma once
// Writes a message head onto the end of a std::string through a position of its own.
// std::string's append checks capacity on every piece and resize() zero-fills: built from a
// dozen pieces that way, the client's head cost more than parsing the upstream's. The writer
// sizes the string once to the caller's estimate, checks room per piece with one compare (and
// grows only if the estimate fell short, so a wrong estimate costs time, never correctness),
// and trims the string to what was written when it goes out of scope.

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sluice::net {

/// Appends to `out` until destroyed; `out` must not be touched meanwhile.
class head_writer {
 public:
  /// `estimate`: about how many bytes will be written (more is fine, just slower).
  head_writer(std::string& out, std::size_t estimate) : out_(out), at_(out.size()) {
    out_.resize(at_ + estimate);
  }
  ~head_writer() { out_.resize(at_); }
  head_writer(const head_writer&) = delete;
  head_writer& operator=(const head_writer&) = delete;

  void put(std::string_view s) {
    room(s.size());
    copy(out_.data() + at_, s);
    at_ += s.size();
  }
  void put(char c) {
    room(1);
    out_[at_++] = c;
  }
  /// Decimal digits of `v`.
  void number(std::uint64_t v) {
    room(20);
    char* p = out_.data() + at_;
    at_ += static_cast<std::size_t>(std::to_chars(p, p + 20, v).ptr - p);
  }
  /// "name: value" CRLF.
  void field(std::string_view name, std::string_view value) {
    room(name.size() + value.size() + 4);
    char* p = out_.data() + at_;
    copy(p, name);
    p += name.size();
    *p++ = ':';
    *p++ = ' ';
    copy(p, value);
    p += value.size();
    *p++ = '\r';
    *p = '\n';
    at_ += name.size() + value.size() + 4;
  }

 private:
  // memcpy's source must not be null even for no bytes, and an empty string_view (an absent
  // query, say) has a null data() (UBSan, in a system test of the sanitizer build).
  static void copy(char* to, std::string_view s) {
    if (!s.empty()) std::memcpy(to, s.data(), s.size());
  }
  void room(std::size_t n) {
    if (out_.size() - at_ < n) [[unlikely]] grow(n);
  }
  // Out of line, so the pieces above stay small enough to inline.
  [[gnu::noinline]] void grow(std::size_t n) {
    out_.resize(std::max(out_.size() * 2, at_ + n + 256));
  }

  std::string& out_;
  std::size_t at_;
};

}  // namespace sluice::net
