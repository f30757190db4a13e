#pragma once
// What a reload does to a key's state when its limit keeps its identity (config/limit_identity)
// but not its definition: the state is reinterpreted under the new definition, never reset.
// Where two readings are possible, the one that counts more against the client is taken.

#include "config/config.hpp"
#include "limiter/clock.hpp"
#include "limiter/limit_state.hpp"

namespace sluice::limiter {

/// True when going from `from` to `to` changes what a key's rate state means (rate, algorithm
/// or burst); a change of max_in_flight, name or mode alone changes nothing in it.
bool rate_changed(const config::limit& from, const config::limit& to);

/// Reinterprets one key's state, kept under `from`, for `to` at `now`, and sets its expiry.
/// What it took from the client under `from` stays taken under `to`.
void rebase_state(const config::limit& from, const config::limit& to, limit_state& state,
                  time_ns now);

/// Forgets a key's rate state (its limit left the config, or lost its rate); the in-flight count
/// stays, for the release() of requests still running.
void forget_state(limit_state& state);

}  // namespace sluice::limiter
