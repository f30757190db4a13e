#pragma once
// Finds the route of a request. Built once per config; matching allocates nothing.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace sluice::routing {

/// The routes of one config in match order, with glob patterns compiled.
class route_table {
 public:
  /// Compiles `cfg`'s routes; the table keeps pointers into `cfg`, which must outlive it.
  explicit route_table(const config::config& cfg);

  /// The first route whose method list and pattern match, else the default route. `method` is
  /// upper-case, and HEAD matches a route that lists GET. Routes listing one of `also` (method
  /// overrides a backend may honour) are tried first. `path` is a canonical match_path.
  const config::route& match(std::string_view method, std::span<const std::string_view> also,
                             std::string_view path) const;

 private:
  /// One element of a compiled glob.
  struct glob_token {
    enum kind_t : std::uint8_t { literal, star, double_star } kind;
    char ch;
  };
  struct compiled_route {
    const config::route* route;
    std::string_view pattern;      // exact: without a trailing slash when that is ignored
    std::vector<glob_token> glob;  // only for glob routes (likewise trimmed)
  };

  static bool glob_match(const std::vector<glob_token>& glob, std::string_view path,
                         bool fold_case);
  static bool pattern_matches(const compiled_route& c, std::string_view path);

  std::vector<compiled_route> routes_;
  const config::route* default_;
};

}  // namespace sluice::routing
