#pragma once
// The client-message rate limit of a WebSocket's route (`messages_per_ip`), as the relay uses it.

#include "config/config.hpp"
#include "limiter/limit_key.hpp"
#include "limiter/limiter.hpp"

namespace sluice::net {

/// The limit, when the route has one.
struct message_limit {
  limiter::limiter* lim = nullptr;       ///< null: no limit
  const config::route* route = nullptr;  ///< a route holding just the message limit
  limiter::limit_key key;                ///< the client's key in it
  config::message_limit_action action = config::message_limit_action::close;  ///< over it
};

}  // namespace sluice::net
