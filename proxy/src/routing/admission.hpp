#pragma once
// The decision point: from a request line, its fields and the socket peer to the canonical
// target, the route, the client and the limit keys. One pure function, called by the proxy, the
// admin /limits explainer and `sluice check --request`, so no two of them can judge a request
// differently. The limiter is asked beside it, with the keys it returns.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <boost/container/small_vector.hpp>

#include "common/ip_address.hpp"
#include "config/config.hpp"
#include "routing/key_builder.hpp"
#include "routing/request_target.hpp"
#include "routing/route_table.hpp"

namespace sluice::routing {

/// One header field as received: name in any case, value without surrounding whitespace.
struct field_view {
  std::string_view name;
  std::string_view value;
};

/// What the decision reads of a request.
struct request_view {
  std::string_view method;             ///< as sent (any case)
  std::string_view target;             ///< the request target as sent
  unsigned version = 11;               ///< 10 or 11
  std::span<const field_view> fields;  ///< every field, in order
  ip_address peer;                     ///< the socket's remote address
};

/// Why a request is refused before any limit is asked (always a 400). One table with messages.
enum class request_problem : std::uint8_t {
  none,
  target,               ///< the target has no canonical form (see admission::target.problem)
  asterisk,             ///< "*" with a method other than OPTIONS
  host_missing,         ///< HTTP/1.1 without Host (RFC 9112 3.2)
  host_repeated,        ///< more than one Host field
  host_invalid,         ///< a Host that is not host[:port]
  host_mismatch,        ///< absolute-form whose authority is not the Host
  connection_framing,   ///< Connection names Host, Content-Length or Transfer-Encoding
  key_repeated,         ///< a field a limit counts by comes twice with different values
  count_,
};

/// The message for a problem (the 400's error text); for `target`, describe() the target's.
std::string_view describe(request_problem p);

/// The decision's answer: either a problem, or everything the proxy needs to ask the limiter
/// and forward. Views point into the request, the config or the scratch buffers here.
struct admission {
  request_problem problem = request_problem::none;
  canonical_target target;            ///< canonical path and query, what goes upstream
  std::string_view method;            ///< upper-case, what goes upstream
  std::string_view host;              ///< the Host value (empty when absent)
  const config::route* route = nullptr;
  ip_address client;                  ///< the peer, or what trusted proxies said
  bool peer_trusted = false;          ///< the peer is in client_ip.trusted_proxies
  bool allowlisted = false;           ///< the client is in the allowlist
  bool exempt = false;                ///< route exempt or client allowlisted: no limit asked
  ip_address key_address;             ///< the client as per-ip limits count it
  key_list keys;                      ///< route->limits[i]'s key at i (empty when exempt)

  /// The message a refused request is answered with.
  std::string_view message() const {
    return problem == request_problem::target ? describe(target.problem) : describe(problem);
  }
  /// True when the request may be judged by its limits.
  bool ok() const { return problem == request_problem::none; }

  target_scratch scratch;  ///< buffers reused from request to request
  std::string method_buffer;
  std::string override_buffer;
};

/// Decides `req` under `cfg` and its compiled `routes`, filling `out` (reusable: its buffers
/// are kept). Pure: no clock, no I/O, no limiter.
void decide(const request_view& req, const config::config& cfg, const route_table& routes,
            admission& out);

}  // namespace sluice::routing
