#pragma once
// The IETF httpapi RateLimit header fields (draft-ietf-httpapi-ratelimit-headers): a
// RateLimit-Policy list naming each policy with its quota (q) and window (w, seconds), and a
// RateLimit list giving each policy's remaining quota (r) and seconds until it grows (t).

#include <string>
#include <vector>

#include "config/config.hpp"
#include "limiter/limiter.hpp"
#include "net/head_writer.hpp"

namespace sluice::net {

/// The RateLimit-Policy value for a route's rate limits, e.g. `"60/minute per ip";q=60;w=60`.
std::string policy_field(const config::route& route);
/// Each limit's name as a structured-field string (quoted, escaped), by limit index.
std::vector<std::string> quoted_limit_names(const config::route& route);
/// Appends the RateLimit value for a decision to `out`, e.g. `"60/minute per ip";r=59;t=60`.
/// `quoted` is quoted_limit_names(route), computed once per config.
void append_ratelimit_field(const config::route& route, const std::vector<std::string>& quoted,
                            const limiter::decision& d, std::string& out);
/// The same, through a head_writer (the proxied response's head).
void append_ratelimit_field(const config::route& route, const std::vector<std::string>& quoted,
                            const limiter::decision& d, head_writer& out);
/// About how many bytes append_ratelimit_field writes for `route` (an estimate for a writer).
std::size_t ratelimit_field_estimate(const std::vector<std::string>& quoted);
/// Whole seconds a client should wait, rounded up, at least 1.
std::uint64_t ceil_seconds(limiter::time_ns ns);

}  // namespace sluice::net
