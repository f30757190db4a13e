#pragma once
// The admin /limits answer: which route and limits a request like the one described would meet,
// and where its keys stand now. Asks the limiter with peek(): nothing is consumed.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "limiter/clock.hpp"
#include "limiter/limiter.hpp"
#include "net/proxy_snapshot.hpp"

namespace sluice::net {

/// A described request: client address, method, path and headers (for per-header limits).
struct described_request {
  std::string ip;
  std::string method = "GET";
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;  ///< name (any case), value
};

/// The explanation, or {"error": ...} when the description is unusable (then `ok` is false).
nlohmann::json explain_limits(const proxy_snapshot& snap, limiter::limiter& lim,
                              const described_request& req, limiter::time_ns now, bool& ok);

}  // namespace sluice::net
