#pragma once
// The path a route is matched against. Backends decode %XX and resolve dot segments before they
// route, so sluice must too: otherwise /api/system/%73tats or /api/x/../system/stats would reach
// the protected endpoint under a name no limit matches.

#include <string>
#include <string_view>

namespace sluice::routing {

/// The request target reduced to a normalised path: query dropped, absolute-form reduced to its
/// path, %XX of unreserved characters decoded, "." and ".." segments resolved, "//" collapsed.
/// Returns a view of `target` when nothing needed changing (the common case: no allocation),
/// else a view of `scratch`.
std::string_view normalize_path(std::string_view target, std::string& scratch);

}  // namespace sluice::routing
