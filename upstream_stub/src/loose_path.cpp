#include "loose_path.hpp"

#include <optional>
#include <vector>

namespace sluice::stub {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::optional<int> hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

/// Drops "scheme:" (RFC 3986: a letter, then letters, digits, '+', '-', '.') and, after it, a
/// "//authority", as urlsplit-style parsers do; anything else is left as it is.
std::string_view strip_scheme_and_authority(std::string_view target) {
  if (target.empty() || !is_alpha(target.front())) {
    return target;
  }
  std::size_t i = 1;
  while (i < target.size() && (is_alpha(target[i]) || (target[i] >= '0' && target[i] <= '9') ||
                               target[i] == '+' || target[i] == '-' || target[i] == '.')) {
    ++i;
  }
  if (i >= target.size() || target[i] != ':') {
    return target;
  }
  target.remove_prefix(i + 1);
  if (target.starts_with("//")) {
    const auto slash = target.find('/', 2);
    target = slash == std::string_view::npos ? std::string_view{} : target.substr(slash);
  }
  return target;
}

/// Every valid %XX decoded once; a '%' not followed by two hex digits stays as it is.
std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const auto high = hex_value(text[i + 1]);
      const auto low = hex_value(text[i + 2]);
      if (high && low) {
        out.push_back(static_cast<char>(*high * 16 + *low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

}  // namespace

std::string loose_path(std::string_view target) {
  std::string_view path = strip_scheme_and_authority(target);
  path = path.substr(0, path.find_first_of("?#"));
  std::string decoded = percent_decode(path);

  // Segments split on '/' and '\', each cut at its first ';', then "." and ".." resolved; empty
  // segments vanish, which merges repeated slashes and drops a trailing one.
  std::vector<std::string_view> segments;
  std::string_view rest = decoded;
  while (!rest.empty()) {
    const auto cut = rest.find_first_of("/\\");
    std::string_view segment = rest.substr(0, cut);
    rest = cut == std::string_view::npos ? std::string_view{} : rest.substr(cut + 1);
    segment = segment.substr(0, segment.find(';'));
    if (segment.empty() || segment == ".") {
      continue;
    }
    if (segment == "..") {
      if (!segments.empty()) {
        segments.pop_back();
      }
      continue;
    }
    segments.push_back(segment);
  }

  std::string out;
  out.reserve(decoded.size() + 1);
  for (const auto segment : segments) {
    out.push_back('/');
    for (const char c : segment) {
      out.push_back(lower(c));
    }
  }
  if (segments.empty()) {
    out.push_back('/');
  }
  return out;
}

std::string loose_method(std::string_view method) {
  std::string out(method);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return out;
}

}  // namespace sluice::stub
