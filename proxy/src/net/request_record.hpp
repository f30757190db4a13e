#pragma once
// What one request did, for its metrics and its access-log line: filled in as the request goes,
// recorded once when it ends, however it ends.

#include <chrono>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "limiter/limiter.hpp"
#include "net/access_log.hpp"
#include "net/forwarding_head.hpp"
#include "net/proxy_snapshot.hpp"

namespace sluice::net {

/// One request's outcome, timings and status.
struct request_record {
  /// How the request was judged; the metrics' decision label and the access log's.
  enum class outcome { allowed, limited, exempt, error, shadow };
  using clock = std::chrono::steady_clock;

  clock::time_point start = clock::now();
  clock::time_point upstream_start{};  ///< unset: no upstream work was done
  clock::time_point upstream_end{};    ///< unset while upstream work goes on
  /// A WebSocket's request ends at its 101: its duration and in-flight count stop there, not
  /// when the connection closes hours later.
  clock::time_point upgraded_at{};
  outcome result = outcome::error;
  unsigned status = 0;       ///< the status the client got (499: it went away first)
  std::string client_text;   ///< the client, when the decision found another than the peer

  /// Notes the start of upstream work.
  void upstream_started() { upstream_start = clock::now(); }
  /// Notes the end of upstream work.
  void upstream_ended() { upstream_end = clock::now(); }

  /// Records the request's metrics (when `snap` has them) and its access-log line (when `log`
  /// is on). `route` is null for a request refused before routing; `d` is the limiter's answer.
  void finish(const proxy_snapshot& snap, unsigned worker, access_log_buffer& log,
              const request_message& req, const config::route* route, const limiter::decision& d,
              std::string_view peer_text, std::string_view request_id) const;
};

}  // namespace sluice::net
