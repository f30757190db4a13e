#pragma once
// The request target reduced to one canonical spelling. Backends decode %XX, resolve dot
// segments, merge slashes and some strip ";params" before they route; sluice does the same
// once, judges that, and forwards exactly that. A spelling that backends read differently from
// one another (an encoded "/", a backslash, "..;") has no one meaning to judge, so it is refused
// unless the config says which meaning to give it (config::path_settings).

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace sluice::routing {

/// Why a target has no canonical form. One table: each has its message (describe()).
enum class target_problem : std::uint8_t {
  none,
  not_origin_form,    ///< neither "/path", absolute-form "http://host/path" nor "*"
  fragment,           ///< a "#" (clients never send fragments; backends disagree on them)
  control_character,  ///< a raw or encoded control (NUL, CR, LF, TAB, DEL, ...)
  backslash,          ///< a raw "\\" (paths.backslash: reject)
  escaped_slash,      ///< %2F or %5C (paths.escaped_slashes: reject)
  malformed_escape,   ///< "%" not followed by two hex digits
  double_encoding,    ///< %25 followed by two hex digits: decoded twice it is another path
  invalid_utf8,       ///< decoded bytes that are not UTF-8 (overlong "/" and the like)
  dot_params,         ///< a "." or ".." segment with ";params" (Tomcat reads "..;" as "..")
  count_,
};

/// The message for a problem (the 400's error text).
std::string_view describe(target_problem p);

/// A target's canonical form. Views point into the target or into the scratch strings.
struct canonical_target {
  target_problem problem = target_problem::none;
  /// What goes upstream: "/" segments with unreserved escapes decoded, other escapes in upper
  /// case, raw non-ASCII bytes escaped, dot segments resolved, slashes merged. "*" for OPTIONS *.
  std::string_view path;
  /// From the "?" on, as the client wrote it (empty when there is none).
  std::string_view query;
  /// What routes match: `path` with every escape decoded and (paths.path_params: ignore) each
  /// segment's ";params" dropped; the path a backend routes on.
  std::string_view match_path;
  /// Absolute-form only: the authority ("host:port"), which must equal Host.
  std::string_view authority;
  /// True when the target was absolute-form (sent upstream as origin-form).
  bool absolute_form = false;
};

/// Reusable buffers, so a request whose target needs rewriting allocates at most once per
/// connection rather than once per request.
struct target_scratch {
  std::string path;
  std::string match_path;
};

/// Computes `target`'s canonical form under `settings`.
canonical_target canonicalize(std::string_view target, const config::path_settings& settings,
                              target_scratch& scratch);

}  // namespace sluice::routing
