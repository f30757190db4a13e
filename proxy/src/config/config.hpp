#pragma once
// The validated, immutable configuration. Built once by config_loader, then shared read-only
// (std::shared_ptr<const config>) by every worker; nothing reads YAML after load.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.hpp"

namespace sluice::config {

using duration = std::chrono::nanoseconds;

/// How a rate limit counts.
enum class algorithm {
  sliding_window,  ///< never more than `count` admissions in any window of `period` (exact log)
  token_bucket,    ///< bucket of `burst` tokens refilled at count/period (GCRA, O(1) per key)
};

/// What a limit counts by: the key.
enum class key_kind {
  ip,      ///< client IP (IPv6 grouped by client_ip.ipv6_prefix)
  route,   ///< all clients of the route together
  header,  ///< a request header's value; the client IP when the header is absent
};

/// How a route's pattern matches the request path.
enum class match_kind {
  exact,   ///< path equals pattern
  prefix,  ///< path starts with pattern
  glob,    ///< `*` matches within one segment (no '/'), `**` matches across segments
};

/// How a route's pattern compares with the path. Loose by default: a request the backend would
/// answer 404 costs nothing when it is counted, one it serves but sluice did not count is an
/// evasion (Express and many routers ignore case and a trailing slash).
struct match_options {
  bool case_sensitive = false;        ///< false: ASCII letters compare without case
  bool ignore_trailing_slash = true;  ///< true: "/a/" and "/a" are the same path
  friend bool operator==(const match_options&, const match_options&) = default;
};

/// What to do with an encoded "/" or "\" (%2F, %5C) in a path (Envoy's
/// path_with_escaped_slashes_action): backends disagree on whether it separates segments.
enum class escaped_slash_action {
  reject,  ///< 400 (default)
  decode,  ///< decoded to "/" (both), matched and forwarded as a separator
  keep,    ///< forwarded as written; matched as a character inside its segment
};

/// What to do with a raw "\" in a path (WHATWG URL parsers and Windows servers read it as "/").
enum class backslash_action {
  reject,  ///< 400 (default)
  slash,   ///< read, matched and forwarded as "/"
};

/// What ";params" in a path segment mean for matching (Tomcat and Spring strip them).
enum class path_params_action {
  ignore,  ///< stripped from each segment before matching (default); forwarded as written
  keep,    ///< part of the segment
};

/// The `paths` block: how spellings that backends read differently are handled.
struct path_settings {
  escaped_slash_action escaped_slashes = escaped_slash_action::reject;
  backslash_action backslash = backslash_action::reject;
  path_params_action path_params = path_params_action::ignore;
};

/// "N per period", e.g. 60/minute or 5/30s.
struct rate {
  std::uint64_t count = 0;  ///< admissions per period; never 0 after validation
  duration period{};        ///< never zero after validation
  friend bool operator==(const rate&, const rate&) = default;
};

/// One rule on a route. A limit has a rate, an in-flight cap, or both.
struct limit {
  std::string name;             ///< operator-given or derived ("60/minute per ip"); shown in 429s
  key_kind per = key_kind::ip;  ///< what it counts by
  std::string header;           ///< lower-case header name when per == header, else empty
  // Qualified: the member is named like its type, which unqualified use would shadow.
  std::optional<sluice::config::rate> rate;  ///< nullopt: no rate, only max_in_flight
  algorithm algo = algorithm::sliding_window;  ///< only meaningful with a rate
  std::uint64_t burst = 0;          ///< token_bucket capacity; equals rate->count unless set
  std::uint32_t max_in_flight = 0;  ///< concurrent requests per key; 0 means no cap
  /// mode: shadow. Judged and counted (metrics, access log) but never refuses: a limit on trial.
  /// Not part of `id`, so switching it to enforce keeps the keys' state.
  bool shadow = false;
  /// Key-table identity: route name, per, header and ordinal among the route's limits with that
  /// per/header (config/limit_identity). A reload that changes the rest keeps the keys' state.
  std::uint64_t id = 0;
};

/// What happens to a client message over `messages_per_ip`.
enum class message_limit_action {
  close,  ///< close the WebSocket with 1008 (policy violation)
  drop,   ///< discard the message, keep the connection
};

/// permessage-deflate (RFC 7692) on a route's WebSockets, negotiated with each side on its own.
/// Context takeover is never used, so compression state exists only while a message is relayed.
struct websocket_compression {
  bool enabled = true;            ///< accept the client's offer and make one to the upstream
  std::uint8_t window_bits = 15;  ///< 9-15: sluice's LZ77 window, and the largest asked of peers
  std::uint8_t mem_level = 4;     ///< 1-9: zlib memLevel of sluice's compressor (its hash table)
  std::uint8_t level = 6;         ///< 1-9: zlib compression level (1 fastest, 9 smallest)
};

/// A route's `websocket:` block. A route without one does not upgrade: the Upgrade header is
/// stripped like any hop-by-hop header and the request is forwarded as plain HTTP.
struct websocket_settings {
  std::uint32_t max_connections_per_ip = 0;  ///< open WebSockets per client key; 0 = no cap
  std::uint32_t max_connections = 0;         ///< open WebSockets on this route; 0 = no cap
  std::optional<sluice::config::rate> messages_per_ip;  ///< client-to-upstream messages per key
  message_limit_action on_message_limit = message_limit_action::close;
  duration idle_timeout = std::chrono::minutes(5);  ///< no message either way: close (1001)
  std::uint64_t max_message_bytes = 1024 * 1024;    ///< larger message from either side: 1009
  std::uint64_t max_queued_bytes = 64 * 1024;  ///< per direction; the relay stops reading past it
  websocket_compression compression;            ///< permessage-deflate on either side
  std::uint64_t id = 0;  ///< key-table identity of messages_per_ip: the route name alone
};

/// A request class with its limits. The first route that matches wins.
struct route {
  std::string name;                  ///< unique; "default" for the fallback route
  match_kind match = match_kind::prefix;
  std::string pattern;               ///< "/" for the default route
  match_options options;             ///< the route's `match`, else the top-level one
  std::vector<std::string> methods;  ///< upper-case; empty means every method (HEAD: GET's too)
  bool exempt = false;               ///< never limited, never counted (health, admin)
  std::vector<limit> limits;
  std::optional<websocket_settings> websocket;  ///< nullopt: upgrades are not proxied
};

/// host:port as written (host may be a name for the upstream, an IP literal for listeners).
struct endpoint {
  std::string host;
  std::uint16_t port = 0;
  friend bool operator==(const endpoint&, const endpoint&) = default;
};

/// The upstream (protected backend) and how sluice talks to it.
struct upstream_settings {
  endpoint address;
  duration connect_timeout = std::chrono::seconds(2);
  duration response_timeout = std::chrono::seconds(30);  ///< until response headers arrive
  std::uint32_t pool_max_idle = 64;  ///< idle keep-alive connections kept per worker
  duration pool_idle_timeout = std::chrono::seconds(60);
};

/// Deadlines on the client side, and the one for stopping.
struct client_timeouts {
  /// A connection's first request: from accept to the end of its headers; later requests: from
  /// their first byte. A connection that sends nothing is closed after this, not `idle`.
  duration header = std::chrono::seconds(10);
  duration idle = std::chrono::seconds(60);    ///< keep-alive wait between requests
  duration body = std::chrono::seconds(30);    ///< longest pause while a body streams either way
  /// At stop, how long requests and WebSockets in progress get before they are cut.
  duration drain = std::chrono::seconds(10);
};

/// Caps that keep one client from hurting the others.
struct caps_settings {
  std::uint32_t max_header_bytes = 16 * 1024;              ///< over it: 431
  std::uint64_t max_body_bytes = 10ull * 1024 * 1024;      ///< request body; over it: 413
  std::uint32_t max_client_connections = 10000;            ///< all workers together; over it: 503
  std::uint32_t max_websockets = 10000;  ///< open WebSockets, all routes together; over it: 503
  /// Connections one client key (socket peer, IPv6 by client_ip.ipv6_prefix) may hold open;
  /// over it a new one gets a fixed 503 at accept. Trusted proxies are exempt. 0 = no cap.
  std::uint32_t max_connections_per_ip = 256;
  /// The last slots of max_client_connections, kept for allowlisted peers and exempt routes.
  /// Resolved at load: unless set, min(32, max_client_connections / 8); always below the cap.
  std::uint32_t reserved_connections = 32;
};

/// Where the client IP comes from.
struct client_ip_settings {
  std::vector<cidr> trusted_proxies;  ///< peers whose X-Forwarded-For / Forwarded are believed
  unsigned ipv6_prefix = 64;          ///< IPv6 clients are keyed by this prefix
  /// Lower-case names of client-identity fields removed from a request whose peer is not a
  /// trusted proxy, so a backend that reads them sees only what sluice decided.
  std::vector<std::string> strip_headers = {
      "x-real-ip",        "x-forwarded-host", "x-forwarded-proto",   "x-forwarded-port",
      "x-forwarded-prefix", "x-forwarded-server", "x-forwarded-scheme", "x-forwarded-ssl",
      "forwarded",        "x-client-ip",      "true-client-ip",      "x-cluster-client-ip",
      "cf-connecting-ip", "fastly-client-ip", "x-original-url",      "x-rewrite-url",
      "x-original-forwarded-for"};
};

/// The limiter's key table.
struct key_table_settings {
  std::uint64_t max_keys = 1000000;  ///< hard bound on tracked keys (all limits together)
};

/// The admin listener: metrics, health, readiness, config, limits, reload.
struct admin_settings {
  bool enabled = true;
  endpoint listen{"127.0.0.1", 9901};  ///< never the proxy's address
  std::vector<cidr> allow;             ///< peers served; others are closed unanswered. Default:
                                       ///< 127.0.0.0/8 and ::1/128
  std::string token_env;  ///< environment variable holding the bearer token for mutating calls
                          ///< (reload); empty: mutating endpoints are off
  /// Host field values served (lower-case, IPv6 in brackets, no port); others get 421, so a
  /// DNS-rebinding page cannot read the admin API. An IP literal naming the address the
  /// connection reached is served too.
  std::vector<std::string> hosts = {"localhost", "127.0.0.1", "[::1]"};
  std::uint32_t max_connections = 64;         ///< admin connections open at once
  std::uint32_t max_connections_per_ip = 8;   ///< of those, from one peer; 0 = no cap
  duration header_timeout = std::chrono::seconds(5);  ///< first request from accept, later ones
                                                      ///< from their first byte; each response write
  duration idle_timeout = std::chrono::seconds(30);   ///< keep-alive wait between requests
  /// Wrong or malformed tokens one peer may send to mutating endpoints per minute; past it they
  /// are answered 429 unchecked until the minute ends.
  std::uint32_t token_failures_per_minute = 10;
};

/// Prometheus metrics.
struct metrics_settings {
  bool enabled = true;  ///< off: nothing recorded, /metrics answers 404
};

/// The whole configuration.
struct config {
  std::string source;  ///< file the config came from, for messages
  endpoint listen{"127.0.0.1", 8080};
  unsigned workers = 0;  ///< 0 = one per core, resolved at start
  upstream_settings upstream;
  client_timeouts timeouts;
  caps_settings caps;
  client_ip_settings client_ip;
  std::vector<cidr> allowlist;  ///< clients never limited and never counted
  path_settings paths;
  key_table_settings key_table;
  std::string access_log = "stdout";  ///< "stdout", "off", or a file path
  admin_settings admin;
  metrics_settings metrics;
  std::vector<route> routes;          ///< in match order
  route default_route;                ///< matches what no route does
};

}  // namespace sluice::config
