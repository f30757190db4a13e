#pragma once
// The admin endpoints: what the admin listener answers, request by request. Read-only endpoints
// are open to any peer the listener lets in; anything that changes state (reload) also needs
// the bearer token, and is off when no token is configured.

#include <functional>
#include <mutex>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/url/params_view.hpp>

#include "common/ip_address.hpp"
#include "limiter/failure_throttle.hpp"
#include "metrics/exposition.hpp"
#include "net/shared_state.hpp"

namespace sluice::net {

/// What a reload did.
struct reload_result {
  bool ok = false;
  std::string message;  ///< on failure the loader's `file:line:col: path: message`
};

/// Handlers for the admin listener; thread-safe.
class admin_api {
 public:
  using request = boost::beast::http::request<boost::beast::http::string_body>;
  using response = boost::beast::http::response<boost::beast::http::string_body>;

  /// `reload` loads the config file again and swaps it in; `token` empty: mutating calls off.
  admin_api(shared_state& shared, metrics::exposition& exposition,
            std::function<reload_result()> reload, std::string token);

  /// The answer to `req` from `peer` (never throws; errors are JSON answers).
  boost::asio::awaitable<response> handle(const request& req, const ip_address& peer);

 private:
  boost::asio::awaitable<response> ready(const request& req);
  response limits(const request& req, boost::urls::params_view params);
  response reload(const request& req, const ip_address& peer);
  bool authorized(const request& req) const;

  shared_state& shared_;
  metrics::exposition& exposition_;
  std::function<reload_result()> reload_;
  std::string token_;
  std::mutex throttle_mu_;  // handle() runs on the admin thread, but the class promises safety
  limiter::failure_throttle token_failures_;  // per peer key, one-minute windows
};

}  // namespace sluice::net
