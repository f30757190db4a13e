#include "router.hpp"

#include <algorithm>

namespace sluice::stub {

namespace {

bool serves(const route& entry, http::verb method) {
  const auto& methods = entry.methods;
  const auto has = [&](http::verb v) {
    return std::find(methods.begin(), methods.end(), v) != methods.end();
  };
  return has(method) || (method == http::verb::head && has(http::verb::get));
}

/// Adds a route's methods to `allowed` once each, HEAD along with GET.
void collect_allowed(std::vector<http::verb>& allowed, const route& entry) {
  const auto add = [&](http::verb v) {
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      allowed.push_back(v);
    }
  };
  for (const auto method : entry.methods) {
    add(method);
    if (method == http::verb::get) {
      add(http::verb::head);
    }
  }
}

}  // namespace

void router::add(route entry) {
  routes_.push_back(std::move(entry));
  runs_.emplace_back(0);
}

void router::record_run(const route_match& match) const {
  if (match.found != nullptr) {
    runs_[match.index].fetch_add(1, std::memory_order_relaxed);
  }
}

std::vector<router::route_runs> router::runs_approx() const {
  std::vector<route_runs> out;
  out.reserve(routes_.size());
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    out.push_back({routes_[i].path, runs_[i].load(std::memory_order_relaxed)});
  }
  return out;
}

route_match router::match(http::verb method, std::string_view path) const {
  route_match result;
  std::vector<http::verb> allowed;
  for (std::size_t index = 0; index < routes_.size(); ++index) {
    const auto& entry = routes_[index];
    std::string_view tail;
    if (entry.prefix) {
      if (!path.starts_with(entry.path)) {
        continue;
      }
      tail = path.substr(entry.path.size());
      if (tail.empty() || tail.find('/') != std::string_view::npos) {
        continue;
      }
    } else if (path != entry.path) {
      continue;
    }
    if (serves(entry, method)) {
      result.found = &entry;
      result.index = index;
      result.tail = tail;
      return result;
    }
    result.path_known = true;
    collect_allowed(allowed, entry);
  }
  for (const auto method : allowed) {
    if (!result.allow.empty()) {
      result.allow += ", ";
    }
    result.allow += http::to_string(method);
  }
  return result;
}

}  // namespace sluice::stub
