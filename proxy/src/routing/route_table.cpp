#include "routing/route_table.hpp"

#include <algorithm>

namespace sluice::routing {

route_table::route_table(const config::config& cfg) : default_(&cfg.default_route) {
  routes_.reserve(cfg.routes.size());
  for (const auto& r : cfg.routes) {
    compiled_route c{&r, {}};
    if (r.match == config::match_kind::glob) {
      const std::string& p = r.pattern;
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
bool route_table::glob_match(const std::vector<glob_token>& glob, std::string_view path) {
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
  for (const char c : path) {
    std::fill(next, next + n + 1, 0);
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!cur[i]) continue;
      const glob_token& t = glob[i];
      if (t.kind == glob_token::literal) {
        if (t.ch == c) {
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

const config::route& route_table::match(std::string_view method, std::string_view path) const {
  for (const auto& c : routes_) {
    const config::route& r = *c.route;
    if (!r.methods.empty() &&
        std::find(r.methods.begin(), r.methods.end(), method) == r.methods.end())
      continue;
    bool hit = false;
    switch (r.match) {
      case config::match_kind::exact: hit = path == r.pattern; break;
      case config::match_kind::prefix: hit = path.starts_with(r.pattern); break;
      case config::match_kind::glob: hit = glob_match(c.glob, path); break;
    }
    if (hit) return r;
  }
  return *default_;
}

}  // namespace sluice::routing
