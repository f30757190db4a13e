#include "limiter/token_bucket.hpp"

#include <algorithm>
#include <cassert>

namespace sluice::limiter {

token_bucket::token_bucket(std::uint64_t count, time_ns period_ns, std::uint64_t burst)
    : burst_(burst),
      interval_ns_(static_cast<time_ns>((static_cast<std::uint64_t>(period_ns) + count - 1) / count)),
      capacity_ns_(static_cast<time_ns>(burst) * interval_ns_) {
  assert(count > 0 && period_ns > 0 && burst > 0);
}

// The bucket is empty exactly as far as the theoretical arrival time (TAT) runs ahead of now:
// each admission pushes TAT one interval further, time catches up at one interval per token.
verdict token_bucket::check(const limit_state& s, time_ns now) const {
  verdict v;
  v.quota = burst_;
  const time_ns next_tat = std::max(s.value_, now) + interval_ns_;
  const time_ns ahead = next_tat - now;
  if (ahead > capacity_ns_) {
    v.allowed = false;
    v.retry_after_ns = ahead - capacity_ns_;
    v.reset_ns = v.retry_after_ns;
    return v;
  }
  v.remaining = static_cast<std::uint64_t>((capacity_ns_ - ahead) / interval_ns_);
  // The next token comes back when `ahead` next crosses a multiple of the interval.
  v.reset_ns = (ahead - 1) % interval_ns_ + 1;
  return v;
}

void token_bucket::consume(limit_state& s, time_ns now) const {
  s.value_ = std::max(s.value_, now) + interval_ns_;
}

bool token_bucket::holds_state(const limit_state& s, time_ns now) const { return s.value_ > now; }

// Each taken token holds the arrival time one interval ahead; rounding up counts a token that
// is part-way back as still taken, the reading that never hands out more than was given back.
std::uint64_t token_bucket::used(const limit_state& s, time_ns now) const {
  if (s.value_ <= now) return 0;
  return static_cast<std::uint64_t>((s.value_ - now + interval_ns_ - 1) / interval_ns_);
}

// At the whole bucket the arrival time is capacity ahead, so the next check refuses for one
// interval: a client that had used everything stays refused, and no longer than a full bucket.
void token_bucket::assign_used(limit_state& s, std::uint64_t used, time_ns now) const {
  s.value_ = now + static_cast<time_ns>(std::min(used, burst_)) * interval_ns_;
}

}  // namespace sluice::limiter
