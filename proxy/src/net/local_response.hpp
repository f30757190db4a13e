#pragma once
// Answers sluice writes itself (errors and rejections), JSON, always under a deadline; and an
// upstream's refusal of a WebSocket upgrade, passed on with its own Content-Type.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/status.hpp>

#include "net/io_types.hpp"
#include "config/config.hpp"
#include "net/deadline.hpp"

namespace sluice::net {

/// A response made by sluice rather than the upstream.
struct local_response {
  boost::beast::http::status status = boost::beast::http::status::ok;
  std::string body;  ///< JSON, unless content_type says otherwise
  std::string_view content_type = "application/json";  ///< empty: no Content-Type field
  std::vector<std::pair<std::string_view, std::string>> headers;  ///< extra fields
  bool keep_alive = false;
  unsigned version = 11;
};

/// Writes `r` to the client under the body deadline; false when the write failed.
task<bool> send_local(socket_t& socket, deadline& dl,
                                        const local_response& r, const config::config& cfg);

/// The request could not be read (too large, malformed, too slow): say so if the client can
/// still hear it. Nothing is said to a client that just went away. Returns the status sent, or
/// 0 when nothing was.
task<unsigned> reject_unreadable(socket_t& socket, deadline& dl,
                                               boost::system::error_code ec,
                                               const config::config& cfg);

/// A JSON object {"error": message} with a few more string fields.
std::string json_error(std::string_view message,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> more = {});

}  // namespace sluice::net
