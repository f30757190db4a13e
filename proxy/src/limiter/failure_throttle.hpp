#pragma once
// Failed attempts per client key in a fixed window: after `max_failures` in one window the key is
// throttled until that window ends, and its attempts are refused without being checked (the
// admin listener's answer to token guessing). Bounded: at most `max_keys` keys are tracked;
// past that, keys share one overflow entry, so spraying addresses buys no extra guesses.
// Pure: `now` is passed in; not thread-safe (the admin listener has one thread).

#include <cstdint>
#include <unordered_map>

#include "common/ip_address.hpp"
#include "limiter/clock.hpp"

namespace sluice::limiter {

/// Failures per key per window.
class failure_throttle {
 public:
  /// `window`: the length of a window, which starts at a key's first failure in it.
  failure_throttle(time_ns window, std::size_t max_keys);

  /// Zero when `key` may try now; else how long until its window ends (and it may again).
  /// `max_failures`: failures a window allows (read per call, so a reload can change it).
  [[nodiscard]] time_ns throttled_for(const ip_address& key, std::uint32_t max_failures,
                                      time_ns now);
  /// Counts a failed attempt by `key` at `now`.
  void failed(const ip_address& key, time_ns now);

  /// Keys tracked now, the overflow entry left out (at most max_keys).
  std::size_t keys() const { return entries_.size(); }

 private:
  struct entry {
    time_ns window_start = 0;
    std::uint32_t failures = 0;
  };
  struct key_hash {
    std::size_t operator()(const ip_address& a) const;
  };

  entry* find(const ip_address& key, time_ns now);
  void drop_expired(time_ns now);

  time_ns window_;
  std::size_t max_keys_;
  std::unordered_map<ip_address, entry, key_hash> entries_;
  entry overflow_;
};

}  // namespace sluice::limiter
