#include "routing/route_table.hpp"

#include <algorithm>

namespace sluice::routing {

namespace {

char fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c; }

inline bool same_text(std::string_view a, std::string_view b, bool fold_case) {
  if (a.size() != b.size()) return false;
  if (!fold_case) return a == b;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (fold(a[i]) != fold(b[i])) return false;
  return true;
}

// "/a/" -> "/a"; "/" stays.
std::string_view without_trailing_slash(std::string_view p) {
  return p.size() > 1 && p.back() == '/' ? p.substr(0, p.size() - 1) : p;
}

bool lists(const std::vector<std::string>& methods, std::string_view m) {
  return std::find(methods.begin(), methods.end(), m) != methods.end();
}

}  // namespace

route_table::route_table(const config::config& cfg) : default_(&cfg.default_route) {
  routes_.reserve(cfg.routes.size());
  for (const auto& r : cfg.routes) {
    // A prefix keeps its slash: prefix /api/admin/ must not take /api/administrator.
    const bool trim = r.options.ignore_trailing_slash && r.match != config::match_kind::prefix;
    compiled_route c{&r, trim ? without_trailing_slash(r.pattern) : std::string_view(r.pattern), {}};
    if (r.match == config::match_kind::glob) {
      const std::string_view p = c.pattern;
      for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '*' && i + 1 < p.size() && p[i + 1] == '*') {
          c.glob.push_back({glob_token::double_star, 0});
          ++i;
        } else if (p[i] == '*') {
          c.glob.push_back({glob_token::star, 0});
        } else {
          c.glob.push_back({glob_token::literal, p[i]});
        }
      }
    }
    routes_.push_back(std::move(c));
  }
}

// Runs the glob as an NFA over the path, one pass, so the cost is O(path x pattern) whatever
// the client sends: backtracking matchers go exponential on paths built against '**'.
bool route_table::glob_match(const std::vector<glob_token>& glob, std::string_view path,
                             bool fold_case) {
  const std::size_t n = glob.size();
  // Patterns are short; 256 states cover any sane one without touching the heap.
  constexpr std::size_t inline_states = 256;
  unsigned char cur_buf[inline_states + 1], next_buf[inline_states + 1];
  std::vector<unsigned char> cur_heap, next_heap;
  unsigned char* cur = cur_buf;
  unsigned char* next = next_buf;
  if (n > inline_states) {
    cur_heap.assign(n + 1, 0);
    next_heap.assign(n + 1, 0);
    cur = cur_heap.data();
    next = next_heap.data();
  }
  auto close = [&](unsigned char* set) {  // a star may match nothing
    for (std::size_t i = 0; i < n; ++i)
      if (set[i] && glob[i].kind != glob_token::literal) set[i + 1] = 1;
  };
  std::fill(cur, cur + n + 1, 0);
  cur[0] = 1;
  close(cur);
  for (char c : path) {
    if (fold_case) c = fold(c);
    std::fill(next, next + n + 1, 0);
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!cur[i]) continue;
      const glob_token& t = glob[i];
      if (t.kind == glob_token::literal) {
        if ((fold_case ? fold(t.ch) : t.ch) == c) {
          next[i + 1] = 1;
          any = true;
        }
      } else if (t.kind == glob_token::double_star || c != '/') {
        next[i] = 1;
        any = true;
      }
    }
    if (!any) return false;
    close(next);
    std::swap(cur, next);
  }
  return cur[n] != 0;
}

bool route_table::pattern_matches(const compiled_route& c, std::string_view path) {
  const config::route& r = *c.route;
  const bool fold_case = !r.options.case_sensitive;
  // A trailing slash that does not count is dropped from the path (exact and glob patterns
  // were trimmed the same way when compiled).
  const bool trim = r.options.ignore_trailing_slash;
  std::size_t n = path.size();
  if (trim && n > 1 && path[n - 1] == '/') --n;
  switch (r.match) {
    case config::match_kind::exact:
      return n == c.pattern.size() && same_text(path.substr(0, n), c.pattern, fold_case);
    case config::match_kind::prefix:
      if (path.size() >= c.pattern.size() &&
          same_text(path.substr(0, c.pattern.size()), c.pattern, fold_case))
        return true;
      // prefix /api/admin/ takes /api/admin too when trailing slashes do not count
      return trim && n == path.size() && n + 1 == c.pattern.size() && c.pattern.back() == '/' &&
             same_text(path, c.pattern.substr(0, n), fold_case);
    case config::match_kind::glob:
      return glob_match(c.glob, path.substr(0, n), fold_case);
  }
  return false;
}

const config::route& route_table::match(std::string_view method,
                                        std::span<const std::string_view> also,
                                        std::string_view path) const {
  // A backend that honours a method override runs the handler of the method it names, one that
  // does not runs the request line's: a route for the override is tried first, then the rest.
  for (const std::string_view m : also) {
    for (const auto& c : routes_) {
      const config::route& r = *c.route;
      if (!r.methods.empty() && lists(r.methods, m) && pattern_matches(c, path)) return r;
    }
  }
  for (const auto& c : routes_) {
    const config::route& r = *c.route;
    if (!r.methods.empty() && !lists(r.methods, method) &&
        !(method == "HEAD" && lists(r.methods, "GET")))
      continue;
    if (pattern_matches(c, path)) return r;
  }
  return *default_;
}

}  // namespace sluice::routing
