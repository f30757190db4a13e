#pragma once
// The fixed answers to a connection refused at accept (per-IP cap, pool full, out of
// descriptors, admin caps). Refusing must cost nothing the refused client can multiply: the
// answer is one prepared buffer, sent with one non-blocking send; nothing is read, nothing
// waits, and the caller closes the descriptor at once.

#include <string_view>

namespace sluice::net {

/// Which fixed answer a refused connection gets.
enum class refusal_answer {
  pool_full,          ///< proxy: caps.max_client_connections (or out of descriptors)
  per_ip,             ///< proxy: caps.max_connections_per_ip
  admin_pool_full,    ///< admin: admin.max_connections
  admin_per_ip,       ///< admin: admin.max_connections_per_ip
};

/// The whole response (a 503 with Retry-After: 1 and Connection: close) for `which`.
std::string_view refusal_response(refusal_answer which);

/// Sends `which`'s response on `fd` once, without waiting: a fresh socket's send buffer always
/// has room for it, and if it does not, the client gets the close alone. Does not close `fd`.
void send_refusal(int fd, refusal_answer which);

}  // namespace sluice::net
