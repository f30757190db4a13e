#include "routing/request_path.hpp"

namespace sluice::routing {
namespace {

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

std::string_view strip_to_path(std::string_view target) {
  if (const auto q = target.find_first_of("?#"); q != std::string_view::npos)
    target = target.substr(0, q);
  if (!target.empty() && target.front() != '/') {
    // absolute-form (http://host/path) or authority/asterisk forms: keep the path part only
    const auto scheme = target.find("://");
    if (scheme != std::string_view::npos) {
      const auto slash = target.find('/', scheme + 3);
      return slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
  }
  return target;
}

bool needs_work(std::string_view path) {
  if (path.empty() || path.front() != '/') return true;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '%') return true;
    if (c == '/' && i + 1 < path.size() && (path[i + 1] == '/' || path[i + 1] == '.')) return true;
  }
  return false;
}

}  // namespace

std::string_view normalize_path(std::string_view target, std::string& scratch) {
  const std::string_view path = strip_to_path(target);
  if (!needs_work(path)) return path;

  // Decode %XX of unreserved characters only: an encoded '/' (%2F) stays encoded, as backends
  // keep it inside one segment.
  std::string decoded;
  decoded.reserve(path.size() + 1);
  if (path.empty() || path.front() != '/') decoded.push_back('/');
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size()) {
      const int hi = hex_value(path[i + 1]), lo = hex_value(path[i + 2]);
      if (hi >= 0 && lo >= 0) {
        const auto c = static_cast<unsigned char>(hi * 16 + lo);
        if (is_unreserved(c)) {
          decoded.push_back(static_cast<char>(c));
          i += 2;
          continue;
        }
      }
    }
    decoded.push_back(path[i]);
  }

  // Resolve segments: empty and "." ones vanish, ".." pops one (never above the root); a path
  // that ended in a directory keeps its trailing slash.
  scratch.clear();
  scratch.reserve(decoded.size());
  bool trailing_slash = false;
  std::size_t pos = 1;  // decoded[0] is '/'
  while (pos <= decoded.size()) {
    const std::size_t end = std::min(decoded.find('/', pos), decoded.size());
    const std::string_view seg(decoded.data() + pos, end - pos);
    const bool last = end == decoded.size();
    if (seg.empty() || seg == ".") {
      trailing_slash = last;
    } else if (seg == "..") {
      const auto cut = scratch.rfind('/');
      scratch.resize(cut == std::string::npos ? 0 : cut);
      trailing_slash = last;
    } else {
      scratch.push_back('/');
      scratch.append(seg);
      trailing_slash = false;
    }
    pos = end + 1;
  }
  if (scratch.empty() || trailing_slash) scratch.push_back('/');
  return scratch;
}

}  // namespace sluice::routing
