#include "limiter/rebase.hpp"

#include "limiter/sliding_window.hpp"
#include "limiter/token_bucket.hpp"

namespace sluice::limiter {
namespace {

bool windowed(const config::limit& l) { return l.algo == config::algorithm::sliding_window; }

sliding_window window_of(const config::limit& l) {
  return sliding_window(l.rate->count, to_ns(l.rate->period));
}

token_bucket bucket_of(const config::limit& l) {
  return token_bucket(l.rate->count, to_ns(l.rate->period), l.burst);
}

}  // namespace

bool rate_changed(const config::limit& from, const config::limit& to) {
  if (from.rate != to.rate) return true;
  return to.rate && (from.algo != to.algo || from.burst != to.burst);
}

// The two algorithms keep their state in different fields: a sliding window its log (in
// value_ only while it fits the inline slot), a token bucket value_. A conversion writes the new
// algorithm's fields and leaves the old one's as they were, because requests that took the old
// config before the swap may still judge this key by it (config_reloader): they then read their
// own algorithm's state as it was at the reload, never an empty one. The one overlap is a window
// held inline, whose admission time value_ becomes the bucket's arrival time: a later, so
// stricter, reading of that one admission. A leftover log is freed by the limiter later.
void rebase_state(const config::limit& from, const config::limit& to, limit_state& s,
                  time_ns now) {
  if (!to.rate) {
    forget_state(s);  // only max_in_flight is left, and in_flight_ is kept
    return;
  }
  // A limit without a rate kept no rate state (forget_state cleared it when it lost its rate),
  // so there is nothing to carry over: the client starts with the whole quota.
  if (!from.rate) return;

  if (windowed(to)) {
    const sliding_window window = window_of(to);
    // A log is a list of times, true under any count and period: kept as it is. A smaller
    // count leaves the client over until old admissions leave; a larger one lets the log grow
    // (consume() doubles it up to the new count); a new period changes which are still inside.
    // Tokens in use become admissions at `now`: the latest they could have been taken, so they
    // stay inside the new window longest.
    if (!windowed(from)) window.assign(s, bucket_of(from).used(s, now), now);
    s.expires_at_ = window.expires_at(s);
    return;
  }
  // Admissions inside the old window, or tokens not yet back, are tokens taken from the new
  // bucket, at most all of it.
  const std::uint64_t taken =
      windowed(from) ? window_of(from).held(s, now) : bucket_of(from).used(s, now);
  bucket_of(to).assign_used(s, taken, now);
  s.expires_at_ = s.value_;  // the bucket is full again at the arrival time
}

void forget_state(limit_state& s) {
  s.log_.reset();
  s.log_head_ = s.log_size_ = s.log_cap_ = 0;
  s.value_ = 0;
  s.refused_ = 0;
  s.expires_at_ = 0;
}

}  // namespace sluice::limiter
