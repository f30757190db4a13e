#include "limiter/sliding_window.hpp"

#include <algorithm>
#include <cassert>

namespace sluice::limiter {

sliding_window::sliding_window(std::uint64_t count, time_ns period_ns)
    : count_(count), period_ns_(period_ns) {
  assert(count_ > 0 && period_ns_ > 0);
}

time_ns sliding_window::oldest(const limit_state& s) const {
  return s.log_cap_ == 0 ? s.value_ : s.log_[s.log_head_];
}

time_ns sliding_window::newest(const limit_state& s) const {
  return s.log_cap_ == 0 ? s.value_ : s.log_[(s.log_head_ + s.log_size_ - 1) % s.log_cap_];
}

// An admission at t is inside the window at `now` while now - t < period: windows are half-open,
// so the request exactly one period after another no longer sees it.
verdict sliding_window::check(limit_state& s, time_ns now) const {
  while (s.log_size_ > 0 && now - oldest(s) >= period_ns_) {
    --s.log_size_;
    if (s.log_cap_ != 0) s.log_head_ = (s.log_head_ + 1) % s.log_cap_;
  }
  if (s.log_size_ == 0) s.log_head_ = 0;
  return evaluate(s.log_size_, s.log_size_ ? oldest(s) : now, now);
}

// The admissions check() would keep, counted without dropping any; `head` ends at the oldest.
std::uint32_t sliding_window::live(const limit_state& s, time_ns now, std::uint32_t& head) const {
  std::uint32_t held = s.log_size_;
  head = s.log_head_;
  auto at = [&](std::uint32_t i) { return s.log_cap_ == 0 ? s.value_ : s.log_[i]; };
  while (held > 0 && now - at(head) >= period_ns_) {
    --held;
    if (s.log_cap_ != 0) head = (head + 1) % s.log_cap_;
  }
  return held;
}

verdict sliding_window::peek(const limit_state& s, time_ns now) const {
  std::uint32_t head = 0;
  const std::uint32_t held = live(s, now, head);
  return evaluate(held, held ? (s.log_cap_ == 0 ? s.value_ : s.log_[head]) : now, now);
}

std::uint32_t sliding_window::held(const limit_state& s, time_ns now) const {
  std::uint32_t head = 0;
  return live(s, now, head);
}

verdict sliding_window::evaluate(std::uint32_t held, time_ns oldest_time, time_ns now) const {
  verdict v;
  v.quota = count_;
  if (held >= count_) {
    v.allowed = false;
    v.remaining = 0;
    v.retry_after_ns = oldest_time + period_ns_ - now;
    v.reset_ns = v.retry_after_ns;
    return v;
  }
  v.remaining = count_ - held - 1;
  // After this admission the oldest one in the window is either the current oldest or this one.
  v.reset_ns = (held ? oldest_time : now) + period_ns_ - now;
  return v;
}

void sliding_window::consume(limit_state& s, time_ns now) const {
  if (s.log_cap_ == 0 && s.log_size_ == 0) {
    s.value_ = now;
    s.log_size_ = 1;
    return;
  }
  if (s.log_size_ == s.log_cap_ || s.log_cap_ == 0) {
    // Grow by doubling up to count_: a key that sends one request costs no heap at all.
    const std::uint64_t wanted = std::max<std::uint64_t>(2, std::uint64_t{s.log_cap_} * 2);
    const auto cap = static_cast<std::uint32_t>(std::min<std::uint64_t>(wanted, count_));
    auto grown = std::make_unique<time_ns[]>(cap);
    for (std::uint32_t i = 0; i < s.log_size_; ++i)
      grown[i] = s.log_cap_ == 0 ? s.value_ : s.log_[(s.log_head_ + i) % s.log_cap_];
    s.log_ = std::move(grown);
    s.log_cap_ = cap;
    s.log_head_ = 0;
  }
  s.log_[(s.log_head_ + s.log_size_) % s.log_cap_] = now;
  ++s.log_size_;
}

bool sliding_window::holds_state(const limit_state& s, time_ns now) const {
  return s.log_size_ > 0 && now - newest(s) < period_ns_;
}

void sliding_window::compact(limit_state& s, time_ns now) const {
  if (holds_state(s, now)) return;
  s.log_.reset();
  s.log_cap_ = s.log_size_ = s.log_head_ = 0;
}

void sliding_window::assign(limit_state& s, std::uint64_t n, time_ns now) const {
  const auto held = static_cast<std::uint32_t>(std::min<std::uint64_t>(n, count_));
  s.log_head_ = 0;
  s.log_size_ = held;
  s.log_cap_ = held;
  if (held == 0) {
    s.log_.reset();
    return;
  }
  s.log_ = std::make_unique<time_ns[]>(held);
  std::fill_n(s.log_.get(), held, now);
}

time_ns sliding_window::expires_at(const limit_state& s) const {
  return s.log_size_ == 0 ? 0 : newest(s) + period_ns_;
}

}  // namespace sluice::limiter
