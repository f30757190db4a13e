#include "request_target.hpp"

#include <charconv>

namespace sluice::stub {

request_target request_target::parse(std::string_view target) {
  request_target parts;
  const auto question = target.find('?');
  parts.path = target.substr(0, question);
  if (question != std::string_view::npos) {
    parts.query = target.substr(question + 1);
  }
  return parts;
}

std::optional<std::string_view> request_target::query_value(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) {
    return std::nullopt;
  }
  return value;
}

}  // namespace sluice::stub
