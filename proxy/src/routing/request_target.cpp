#include "routing/request_target.hpp"

#include <array>
#include <utility>

#include <boost/container/small_vector.hpp>

namespace sluice::routing {
namespace {

using namespace std::string_view_literals;

constexpr std::array<std::pair<target_problem, std::string_view>,
                     static_cast<std::size_t>(target_problem::count_)>
    messages{{
        {target_problem::none, ""},
        {target_problem::not_origin_form,
         "the request target is not a path (origin-form \"/...\"; absolute-form \"http://host/...\" "
         "or \"*\" for OPTIONS)"},
        {target_problem::fragment, "a \"#\" in the request target (fragments are not sent)"},
        {target_problem::control_character, "a control character in the request target"},
        {target_problem::backslash, "a \"\\\" in the path (backends disagree on it)"},
        {target_problem::escaped_slash,
         "an encoded \"/\" or \"\\\" (%2F, %5C) in the path (backends disagree on it)"},
        {target_problem::malformed_escape, "a \"%\" not followed by two hex digits in the path"},
        {target_problem::double_encoding,
         "a double-encoded escape (%25 followed by two hex digits) in the path"},
        {target_problem::invalid_utf8, "encoded bytes in the path that are not UTF-8"},
        {target_problem::dot_params, "a \".\" or \"..\" segment with \";\" parameters in the path"},
    }};

constexpr bool messages_in_order() {
  for (std::size_t i = 0; i < messages.size(); ++i)
    if (static_cast<std::size_t>(messages[i].first) != i) return false;
  return true;
}
static_assert(messages_in_order(), "messages must list target_problem in declaration order");

constexpr char hex_digits[] = "0123456789ABCDEF";

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  return true;
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF. Lenient
// decoders read an overlong "/" (C0 AF) as "/", so anything less strict is a spelling gap.
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xbf;  // bounds of the second byte
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c == 0xe0) { n = 2; lo = 0xa0; }
    else if (c >= 0xe1 && c <= 0xec) n = 2;
    else if (c == 0xed) { n = 2; hi = 0x9f; }
    else if (c >= 0xee && c <= 0xef) n = 2;
    else if (c == 0xf0) { n = 3; lo = 0x90; }
    else if (c >= 0xf1 && c <= 0xf3) n = 3;
    else if (c == 0xf4) { n = 3; hi = 0x8f; }
    else return false;
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      const unsigned char min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xbf;
      if (b < min || b > max) return false;
    }
    i += n + 1;
  }
  return true;
}

// Builds both spellings segment by segment. Dot segments are resolved on the decoded segment, so
// "%2E%2E" is ".." too; a segment is dropped from both strings at once, so they stay in step.
target_problem rewrite(std::string_view raw, const config::path_settings& settings,
                       target_scratch& scratch) {
  std::string& fwd = scratch.path;
  std::string& dec = scratch.match_path;
  fwd.clear();
  dec.clear();
  fwd.reserve(raw.size() + 8);
  dec.reserve(raw.size() + 8);
  const bool strip_params = settings.path_params == config::path_params_action::ignore;
  struct segment_start {
    std::size_t fwd, dec;
  };
  boost::container::small_vector<segment_start, 16> kept;
  bool non_ascii = false;
  bool trailing_slash = false;

  std::size_t i = 1;  // raw starts with '/'
  // Each turn reads one segment and the separator after it, if any.
  for (;;) {
    const segment_start start{fwd.size(), dec.size()};
    fwd.push_back('/');
    dec.push_back('/');
    bool separator = false;
    while (i < raw.size()) {
      const auto c = static_cast<unsigned char>(raw[i]);
      if (c == '/') {
        ++i;
        separator = true;
        break;
      }
      if (c == '\\') {
        if (settings.backslash == config::backslash_action::reject) return target_problem::backslash;
        ++i;
        separator = true;
        break;
      }
      if (is_control(c) || c == ' ') return target_problem::control_character;
      if (c >= 0x80) {
        non_ascii = true;
        fwd.push_back('%');
        fwd.push_back(hex_digits[c >> 4]);
        fwd.push_back(hex_digits[c & 15]);
        dec.push_back(static_cast<char>(c));
        ++i;
        continue;
      }
      if (c != '%') {
        fwd.push_back(static_cast<char>(c));
        dec.push_back(static_cast<char>(c));
        ++i;
        continue;
      }
      if (i + 2 >= raw.size()) return target_problem::malformed_escape;
      const int hi = hex_value(raw[i + 1]), lo = hex_value(raw[i + 2]);
      if (hi < 0 || lo < 0) return target_problem::malformed_escape;
      const auto b = static_cast<unsigned char>(hi * 16 + lo);
      i += 3;
      if (b == '%' && i + 1 < raw.size() && hex_value(raw[i]) >= 0 && hex_value(raw[i + 1]) >= 0)
        return target_problem::double_encoding;
      if (is_control(b)) return target_problem::control_character;
      if (b == '/' || b == '\\') {
        if (settings.escaped_slashes == config::escaped_slash_action::reject)
          return target_problem::escaped_slash;
        if (settings.escaped_slashes == config::escaped_slash_action::decode) {
          // A separator; an encoded "\" too, as WHATWG parsers read "\" as "/".
          separator = true;
          break;
        }
        const std::string_view kept_escape = b == '/' ? "%2F"sv : "%5C"sv;
        fwd.append(kept_escape);
        dec.append(kept_escape);  // keep: matched as text inside the segment
        continue;
      }
      if (is_unreserved(b)) {
        fwd.push_back(static_cast<char>(b));
      } else {
        fwd.push_back('%');
        fwd.push_back(hex_digits[b >> 4]);
        fwd.push_back(hex_digits[b & 15]);
      }
      if (b >= 0x80) non_ascii = true;
      dec.push_back(static_cast<char>(b));
    }

    const std::string_view segment(dec.data() + start.dec + 1, dec.size() - start.dec - 1);
    const auto semi = segment.find(';');
    const std::string_view name = semi == std::string_view::npos ? segment : segment.substr(0, semi);
    if (semi != std::string_view::npos && (name == "." || name == ".."))
      return target_problem::dot_params;
    const std::string_view matched = strip_params ? name : segment;
    const bool last = !separator;
    if (matched.empty() || matched == ".") {
      fwd.resize(start.fwd);
      dec.resize(start.dec);
      trailing_slash = last;
    } else if (matched == "..") {
      fwd.resize(start.fwd);
      dec.resize(start.dec);
      if (!kept.empty()) {  // never above the root
        fwd.resize(kept.back().fwd);
        dec.resize(kept.back().dec);
        kept.pop_back();
      }
      trailing_slash = last;
    } else {
      if (strip_params && semi != std::string_view::npos) dec.resize(start.dec + 1 + name.size());
      kept.push_back(start);
      trailing_slash = false;
    }
    if (last) break;
    if (i >= raw.size()) {  // the path ends with a separator: "/a/"
      trailing_slash = true;
      break;
    }
  }
  if (fwd.empty() || trailing_slash) {
    fwd.push_back('/');
    dec.push_back('/');
  }
  if (non_ascii && !valid_utf8(dec)) return target_problem::invalid_utf8;
  // The check above sees raw digits after %25; escaped digits are decoded (they are
  // unreserved), so "%25%34%31" would go upstream as "%2541", decoded twice "A". What goes
  // upstream is checked itself (found by fuzz/request_target_fuzz: canonical twice refused).
  for (auto at = fwd.find("%25"); at != std::string::npos; at = fwd.find("%25", at + 1)) {
    if (at + 4 < fwd.size() && hex_value(fwd[at + 3]) >= 0 && hex_value(fwd[at + 4]) >= 0)
      return target_problem::double_encoding;
  }
  return target_problem::none;
}

}  // namespace

std::string_view describe(target_problem p) {
  return messages[static_cast<std::size_t>(p)].second;
}

canonical_target canonicalize(std::string_view target, const config::path_settings& settings,
                              target_scratch& scratch) {
  canonical_target out;
  if (target == "*") {
    out.path = out.match_path = target;
    return out;
  }
  std::string_view rest = target;
  if (rest.empty()) {
    out.problem = target_problem::not_origin_form;
    return out;
  }
  if (rest.front() != '/') {
    // absolute-form (RFC 9112 3.2.2): "http" or "https", "://", an authority without userinfo.
    const auto sep = rest.find("://");
    const std::string_view scheme = sep == std::string_view::npos ? rest : rest.substr(0, sep);
    if (sep == std::string_view::npos ||
        !(iequals_ascii(scheme, "http") || iequals_ascii(scheme, "https"))) {
      out.problem = target_problem::not_origin_form;
      return out;
    }
    const std::string_view after = rest.substr(sep + 3);
    const auto end = after.find_first_of("/?#");
    const std::string_view authority = after.substr(0, end);
    if (authority.empty() || authority.find('@') != std::string_view::npos) {
      out.problem = target_problem::not_origin_form;
      return out;
    }
    out.absolute_form = true;
    out.authority = authority;
    rest = end == std::string_view::npos ? std::string_view{} : after.substr(end);
  }
  // One pass over the path: where the query starts, and whether the path is canonical already
  // (the usual request, answered with a view and no copy).
  const bool strip_params = settings.path_params == config::path_params_action::ignore;
  std::size_t q = std::string_view::npos;
  bool canonical = true;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const auto c = static_cast<unsigned char>(rest[i]);
    if (c == '?') {
      q = i;
      break;
    }
    if (c == '#') {
      out.problem = target_problem::fragment;
      return out;
    }
    if (c <= 0x20 || c >= 0x7f || c == '%' || c == '\\' || (c == ';' && strip_params) ||
        (c == '/' && i + 1 < rest.size() && (rest[i + 1] == '/' || rest[i + 1] == '.')))
      canonical = false;
  }
  std::string_view raw = rest.substr(0, q);
  if (q != std::string_view::npos) {
    out.query = rest.substr(q);
    for (const char c : out.query) {
      if (c == '#') {
        out.problem = target_problem::fragment;
        return out;
      }
      if (is_control(static_cast<unsigned char>(c)) || c == ' ') {
        out.problem = target_problem::control_character;
        return out;
      }
    }
  }
  if (raw.empty()) raw = "/"sv;  // absolute-form with no path: "http://host?x" is "/?x"
  if (canonical) {
    out.path = out.match_path = raw;
    return out;
  }
  out.problem = rewrite(raw, settings, scratch);
  if (out.problem == target_problem::none) {
    out.path = scratch.path;
    out.match_path = scratch.match_path;
  }
  return out;
}

}  // namespace sluice::routing
