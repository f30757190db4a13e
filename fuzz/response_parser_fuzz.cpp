// Fuzz target: the upstream response parser (http1::response_parser). Bytes in, as an upstream
// would send them, fed the way http_io.cpp feeds them: once whole, and once in pieces and body
// windows whose sizes are drawn from a hash of the input, each as the answer to a GET and to a
// HEAD. Checked: however the bytes are split the parser reaches the same verdict, and when it
// accepts, the same status, fields, body and message end; a message never takes more bytes
// than it was given; a Content-Length body is exactly that long; no body after a HEAD, a 1xx,
// a 204 or a 304; every field name is a token and no value holds CR, LF or NUL.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "response_differential.hpp"

namespace {

using sluice::proof::feed_plan;
using sluice::proof::parse_outcome;

[[noreturn]] void fail(const char* what, const parse_outcome& a, const parse_outcome& b) {
  std::fprintf(stderr, "invariant broken: %s\n  whole: %s (%zu fields, body %zu bytes, %zu taken)\n"
               "  split: %s (%zu fields, body %zu bytes, %zu taken)\n",
               what, a.accepted ? "accepted" : a.ec.message().c_str(), a.fields.size(),
               a.body.size(), a.consumed, b.accepted ? "accepted" : b.ec.message().c_str(),
               b.fields.size(), b.body.size(), b.consumed);
  std::abort();
}

bool is_tchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void check_message(std::string_view wire, bool head, const parse_outcome& o) {
  if (o.consumed > wire.size()) fail("took more bytes than it was given", o, o);
  if (!o.accepted) return;
  if (o.status < 100 || o.status > 999) fail("status out of range", o, o);
  if (o.version != 10 && o.version != 11) fail("version other than 1.0 or 1.1", o, o);
  const bool no_body = head || o.status / 100 == 1 || o.status == 204 || o.status == 304;
  if (no_body && !o.body.empty()) fail("a body where there is none", o, o);
  for (const auto& [name, value] : o.fields) {
    if (name.empty()) fail("an empty field name", o, o);
    for (const char c : name)
      if (!is_tchar(c)) fail("a field name that is not a token", o, o);
    for (const char c : value)
      if (c == '\r' || c == '\n' || c == '\0') fail("CR, LF or NUL in a field value", o, o);
    if (!value.empty() && (value.front() == ' ' || value.back() == ' ' || value.front() == '\t' ||
                           value.back() == '\t'))
      fail("a field value not trimmed", o, o);
  }
  // A Content-Length body (not chunked, not skipped) is exactly as long as it says.
  std::optional<std::uint64_t> length;
  bool transfer_encoding = false;
  for (const auto& [name, value] : o.fields) {
    auto lower = [](std::string s) {
      for (auto& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      return s;
    };
    const std::string n = lower(name);
    if (n == "transfer-encoding") transfer_encoding = true;
    // Accepted, so a list holds one value repeated (and empty elements): its first digits.
    if (n == "content-length") {
      const auto digit = value.find_first_of("0123456789");
      if (digit != std::string::npos) length = std::strtoull(value.c_str() + digit, nullptr, 10);
    }
  }
  if (!no_body && !transfer_encoding && length && o.body.size() != *length)
    fail("a Content-Length body of another length", o, o);
  if (!no_body && !transfer_encoding && !length && o.consumed != wire.size())
    fail("a body ended by the close stopped early", o, o);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view wire(reinterpret_cast<const char*>(data), size);
  for (const bool head : {false, true}) {
    const parse_outcome whole = sluice::proof::parse_ours(wire, feed_plan{{}, 4096, head});
    const parse_outcome split = sluice::proof::parse_ours(wire, sluice::proof::plan_from(wire, head));
    check_message(wire, head, whole);
    check_message(wire, head, split);
    if (whole.accepted != split.accepted) fail("the verdict depends on how the bytes are split", whole, split);
    if (!whole.accepted) continue;
    if (whole.status != split.status || whole.version != split.version ||
        whole.keep_alive != split.keep_alive || whole.fields != split.fields ||
        whole.body != split.body || whole.consumed != split.consumed)
      fail("the message depends on how the bytes are split", whole, split);
  }
  return 0;
}
