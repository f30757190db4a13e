// A reload never resets a count: limiter::rebase reinterprets each key's state when a limit keeps
// its identity and changes its rate, period, burst or algorithm, on a manual clock.

#include "limiter/rebase.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "config/config_loader.hpp"
#include "config/message_limit.hpp"
#include "limiter/limiter.hpp"
#include "limiter/sliding_window.hpp"
#include "limiter/token_bucket.hpp"

namespace {

using namespace sluice;
using namespace sluice::limiter;

using rate_limiter = sluice::limiter::limiter;
using config_ptr = std::shared_ptr<const config::config>;

constexpr time_ns ms = 1'000'000;
constexpr time_ns second = 1'000 * ms;
constexpr time_ns minute = 60 * second;
constexpr time_ns hour = 60 * minute;

// A config whose route `api` has the given limits (a YAML flow list's items).
config_ptr api_with(const std::string& limits, const std::string& websocket = "") {
  return config::load_string("upstream: {address: 127.0.0.1:9000}\n"
                             "routes:\n  - {name: api, path: /api, limits: [" +
                                 limits + "]" + (websocket.empty() ? "" : ", websocket: " + websocket) +
                                 "}\n",
                             "test.yaml");
}

const config::route& api(const config_ptr& c) { return c->routes.at(0); }

// The keys the key builder would make for client number `client`.
std::vector<limit_key> keys_for(const config::route& r, std::uint32_t client) {
  std::vector<limit_key> keys;
  for (const auto& l : r.limits) {
    limit_key k;
    k.limit_id = l.id;
    if (l.per != config::key_kind::route) std::memcpy(k.value.data() + 12, &client, 4);
    keys.push_back(k);
  }
  return keys;
}

// Admissions at `now` until the first refusal (at most `cap`).
int admissions(rate_limiter& lim, const config::route& r, std::uint32_t client, time_ns now,
               int cap = 1000) {
  const auto keys = keys_for(r, client);
  int n = 0;
  while (n < cap && lim.acquire(r, keys, now).allowed()) ++n;
  return n;
}

// One admission each at `first`, `first + step`, ... (`n` in all); all must be admitted.
void admit_spread(rate_limiter& lim, const config::route& r, std::uint32_t client, int n,
                  time_ns first, time_ns step) {
  const auto keys = keys_for(r, client);
  for (int i = 0; i < n; ++i) REQUIRE(lim.acquire(r, keys, first + i * step).allowed());
}

// The message route proxy_snapshot builds for a websocket block.
config::route message_route(const config_ptr& c) {
  config::route r;
  r.name = api(c).name;
  r.limits.push_back(*config::message_limit(*api(c).websocket));
  return r;
}

}  // namespace

TEST_CASE("the measured case: 8 of 10/minute, reloaded to 12/minute, leaves exactly 4") {
  rate_limiter lim(1000);
  const auto before = api_with("{per: ip, rate: 10/minute}");
  const auto after = api_with("{per: ip, rate: 12/minute}");
  REQUIRE(api(before).limits[0].id == api(after).limits[0].id);  // same identity, new definition
  admit_spread(lim, api(before), 1, 8, 0, second);

  CHECK(lim.rebase(*before, *after, 8 * second) == 1);
  CHECK(admissions(lim, api(after), 1, 9 * second) == 4);
  // The window slides as it always did: the first admission leaves at one minute, one more.
  CHECK(admissions(lim, api(after), 1, minute - 1) == 0);
  CHECK(admissions(lim, api(after), 1, minute) == 1);
  // Another client was never counted and gets the whole new quota.
  CHECK(admissions(lim, api(after), 2, minute) == 12);
}

TEST_CASE("a sliding window's log grows past its old count when the count is raised") {
  rate_limiter lim(1000);
  const auto before = api_with("{per: ip, rate: 10/minute}");
  const auto after = api_with("{per: ip, rate: 25/minute}");
  CHECK(admissions(lim, api(before), 1, 0) == 10);  // the log is full at its old count
  lim.rebase(*before, *after, second);
  CHECK(admissions(lim, api(after), 1, second) == 15);
  // All 25 are held: none may leave before its own minute is over.
  CHECK(admissions(lim, api(after), 1, minute - 1) == 0);
  CHECK(admissions(lim, api(after), 1, minute) == 10);
  CHECK(admissions(lim, api(after), 1, minute + second) == 15);
}

TEST_CASE("a sliding window's count lowered: the client is over until old admissions leave") {
  rate_limiter lim(1000);
  const auto before = api_with("{per: ip, rate: 10/minute}");
  const auto after = api_with("{per: ip, rate: 5/minute}");
  admit_spread(lim, api(before), 1, 8, 0, second);  // at 0 s, 1 s, ... 7 s
  lim.rebase(*before, *after, 8 * second);
  CHECK(admissions(lim, api(after), 1, 8 * second) == 0);
  // At 62 s the ones at 0, 1 and 2 s have left: 5 held, still over.
  CHECK(admissions(lim, api(after), 1, minute + 2 * second) == 0);
  // At 63 s the one at 3 s has left too: 4 held, one more.
  CHECK(admissions(lim, api(after), 1, minute + 3 * second) == 1);
}

TEST_CASE("a new period changes which admissions are still inside the window") {
  SUBCASE("shorter") {
    rate_limiter lim(1000);
    const auto before = api_with("{per: ip, rate: 10/minute}");
    const auto after = api_with("{per: ip, rate: 10/10s}");
    admit_spread(lim, api(before), 1, 8, 0, second);  // at 0 s ... 7 s
    lim.rebase(*before, *after, 8 * second);
    CHECK(admissions(lim, api(after), 1, 8 * second) == 2);  // all 8 are inside 10 s
    // At 15 s those at 0 ... 5 s have left: the ones at 6 and 7 s and the two at 8 s remain.
    CHECK(admissions(lim, api(after), 1, 15 * second) == 6);
  }
  SUBCASE("longer") {
    rate_limiter lim(1000);
    const auto before = api_with("{per: ip, rate: 10/10s}");
    const auto after = api_with("{per: ip, rate: 10/hour}");
    admit_spread(lim, api(before), 1, 8, 0, second);
    lim.rebase(*before, *after, 8 * second);
    // Under the old period all 8 would have left by now; under the new one they are all inside.
    CHECK(admissions(lim, api(after), 1, 30 * minute) == 2);
    CHECK(admissions(lim, api(after), 1, hour + 7 * second) == 8);
  }
}

TEST_CASE("a token bucket's used tokens stay used when its rate or burst changes") {
  SUBCASE("rate raised: 8 of 10/minute leaves 4 of 12/minute") {
    rate_limiter lim(1000);
    const auto before = api_with("{per: ip, rate: 10/minute, algorithm: token_bucket}");
    const auto after = api_with("{per: ip, rate: 12/minute, algorithm: token_bucket}");
    CHECK(admissions(lim, api(before), 1, 0, 8) == 8);
    CHECK(lim.rebase(*before, *after, 0) == 1);
    CHECK(admissions(lim, api(after), 1, 0) == 4);
    // Refilled at the new rate: one token every 5 s.
    CHECK(admissions(lim, api(after), 1, 5 * second - 1) == 0);
    CHECK(admissions(lim, api(after), 1, 5 * second) == 1);
  }
  SUBCASE("rate lowered below what was used: refused until a token of the new rate is back") {
    rate_limiter lim(1000);
    const auto before = api_with("{per: ip, rate: 10/minute, algorithm: token_bucket}");
    const auto after = api_with("{per: ip, rate: 5/minute, algorithm: token_bucket}");
    CHECK(admissions(lim, api(before), 1, 0, 8) == 8);
    lim.rebase(*before, *after, 0);
    const auto keys = keys_for(api(after), 1);
    const decision d = lim.acquire(api(after), keys, 0);
    CHECK(d.refused == refusal::rate);
    CHECK(d.limiting.retry_after_ns == 12 * second);  // one interval of 5/minute, no longer
    CHECK(admissions(lim, api(after), 1, 12 * second) == 1);
  }
  SUBCASE("a token on its way back counts as used") {
    rate_limiter lim(1000);
    const auto before = api_with("{per: ip, rate: 10/minute, algorithm: token_bucket}");
    const auto after = api_with("{per: ip, rate: 12/minute, algorithm: token_bucket}");
    CHECK(admissions(lim, api(before), 1, 0, 8) == 8);
    // 3 s in, the eighth token is half back (6 s each): still 8 used, so still 4 left.
    lim.rebase(*before, *after, 3 * second);
    CHECK(admissions(lim, api(after), 1, 3 * second) == 4);
  }
  SUBCASE("burst raised") {
    rate_limiter lim(1000);
    const auto before = api_with("{per: ip, rate: 10/minute, algorithm: token_bucket}");
    const auto after = api_with("{per: ip, rate: 10/minute, algorithm: token_bucket, burst: 20}");
    CHECK(admissions(lim, api(before), 1, 0) == 10);
    lim.rebase(*before, *after, 0);
    CHECK(admissions(lim, api(after), 1, 0) == 10);
  }
}

TEST_CASE("sliding window to token bucket: admissions inside the window are used tokens") {
  rate_limiter lim(1000);
  const auto before = api_with("{per: ip, rate: 10/minute}");
  const auto after = api_with("{per: ip, rate: 12/minute, algorithm: token_bucket}");
  admit_spread(lim, api(before), 1, 2, 0, 1);           // these two leave the window at 60 s
  admit_spread(lim, api(before), 1, 8, 30 * second, 1);  // these eight are inside at 70 s
  CHECK(lim.rebase(*before, *after, 70 * second) == 1);
  CHECK(admissions(lim, api(after), 1, 70 * second) == 4);
  CHECK(admissions(lim, api(after), 1, 75 * second) == 1);  // then one per 5 s
}

TEST_CASE("token bucket to sliding window: used tokens become admissions at the reload") {
  SUBCASE("8 of 10/minute leaves 4 of 12/minute, held a whole window") {
    rate_limiter lim(1000);
    const auto before = api_with("{per: ip, rate: 10/minute, algorithm: token_bucket}");
    const auto after = api_with("{per: ip, rate: 12/minute}");
    CHECK(admissions(lim, api(before), 1, 0, 8) == 8);
    CHECK(lim.rebase(*before, *after, 0) == 1);
    CHECK(admissions(lim, api(after), 1, 0) == 4);
    CHECK(admissions(lim, api(after), 1, minute - 1) == 0);
    CHECK(admissions(lim, api(after), 1, minute) == 12);
  }
  SUBCASE("tokens already back are not counted") {
    rate_limiter lim(1000);
    const auto before = api_with("{per: ip, rate: 10/minute, algorithm: token_bucket}");
    const auto after = api_with("{per: ip, rate: 12/minute}");
    CHECK(admissions(lim, api(before), 1, 0, 8) == 8);
    // At 10 s one token is back and the next is part-way: 7 used.
    lim.rebase(*before, *after, 10 * second);
    CHECK(admissions(lim, api(after), 1, 10 * second) == 5);
  }
}

TEST_CASE("a change of what a limit counts by starts afresh, and the old keys are forgotten") {
  rate_limiter lim(1000);
  const auto before = api_with("{per: ip, rate: 10/minute}");
  const auto after = api_with("{per: header x-key, rate: 10/minute}");
  REQUIRE(api(before).limits[0].id != api(after).limits[0].id);
  CHECK(admissions(lim, api(before), 1, 0, 8) == 8);
  CHECK(lim.rebase(*before, *after, second) == 1);  // the old limit's one key, forgotten
  CHECK(admissions(lim, api(after), 1, second) == 10);
  // Forgotten, not merely unused: were the old limit to come back, it would start afresh too.
  CHECK(lim.peek(api(before), keys_for(api(before), 1), second).verdicts[0].remaining == 9);
}

TEST_CASE("a reload that changes no limit's rate, algorithm or burst visits nothing") {
  rate_limiter lim(1000);
  const auto before = api_with("{per: ip, rate: 10/minute, max_in_flight: 2}");
  const auto after = api_with("{per: ip, rate: 10/minute, max_in_flight: 3, mode: shadow, name: renamed}");
  CHECK(admissions(lim, api(before), 1, 0, 2) == 2);
  CHECK(lim.rebase(*before, *after, 0) == 0);
  CHECK(lim.rebase(*before, *before, 0) == 0);
  // The state is the same: 2 admitted and in flight, so 8 of the rate and 1 of the new cap left.
  const decision d = lim.peek(api(after), keys_for(api(after), 1), 0);
  CHECK(d.allowed());
  CHECK(d.verdicts[0].remaining == 0);  // remaining after this one, the cap's: 3 - 2 - 1
}

TEST_CASE("in-flight slots survive a rebase and are given back by the old route") {
  rate_limiter lim(1000);
  const auto before = api_with("{per: ip, rate: 10/minute, max_in_flight: 2}");
  const auto after = api_with("{per: ip, rate: 12/minute, algorithm: token_bucket, max_in_flight: 2}");
  const auto old_keys = keys_for(api(before), 1);
  REQUIRE(lim.acquire(api(before), old_keys, 0).allowed());
  REQUIRE(lim.acquire(api(before), old_keys, 0).allowed());
  lim.rebase(*before, *after, second);
  const auto new_keys = keys_for(api(after), 1);
  CHECK(lim.acquire(api(after), new_keys, second).refused == refusal::in_flight);
  // The requests still running finish under the route they started with.
  lim.release(api(before), old_keys);
  CHECK(lim.acquire(api(after), new_keys, second).allowed());
}

TEST_CASE("a limit that loses its rate forgets it, and one that gains a rate starts with all of it") {
  rate_limiter lim(1000);
  const auto with_rate = api_with("{per: ip, rate: 10/minute}");
  const auto cap_only = api_with("{per: ip, max_in_flight: 5}");
  CHECK(admissions(lim, api(with_rate), 1, 0, 8) == 8);
  CHECK(lim.rebase(*with_rate, *cap_only, second) == 1);
  CHECK(lim.rebase(*cap_only, *with_rate, 2 * second) == 0);  // nothing to convert
  CHECK(admissions(lim, api(with_rate), 1, 2 * second) == 10);
}

TEST_CASE("requests still judging by the old definition read the state as it was at the reload") {
  // Between the rebase and the swap a request that took the old snapshot decides by the old
  // definition on a rebased entry (config_reloader): it must never find an emptied state.
  SUBCASE("a sliding window that became a token bucket") {
    rate_limiter lim(1000);
    const auto before = api_with("{per: ip, rate: 10/minute}");
    const auto after = api_with("{per: ip, rate: 10/minute, algorithm: token_bucket}");
    CHECK(admissions(lim, api(before), 1, 0) == 10);
    lim.rebase(*before, *after, second);
    CHECK(admissions(lim, api(before), 1, second) == 0);  // its log is still full
    CHECK(admissions(lim, api(after), 1, second) == 0);   // and the bucket is empty
  }
  SUBCASE("a sliding window held inline that became a token bucket") {
    rate_limiter lim(1000);
    const auto before = api_with("{per: ip, rate: 10/minute}");
    const auto after = api_with("{per: ip, rate: 10/minute, algorithm: token_bucket}");
    CHECK(admissions(lim, api(before), 1, 0, 1) == 1);
    lim.rebase(*before, *after, 0);
    // The old reading still counts its one admission and may take the rest of its window...
    CHECK(admissions(lim, api(before), 1, 0, 1) == 1);
    // ...which the bucket misses (at most one per such request); it keeps the one it took over.
    CHECK(admissions(lim, api(after), 1, 0) == 9);
  }
  SUBCASE("a token bucket that became a sliding window") {
    rate_limiter lim(1000);
    const auto before = api_with("{per: ip, rate: 10/minute, algorithm: token_bucket}");
    const auto after = api_with("{per: ip, rate: 10/minute}");
    CHECK(admissions(lim, api(before), 1, 0) == 10);
    lim.rebase(*before, *after, second);
    CHECK(admissions(lim, api(before), 1, second) == 0);
    CHECK(admissions(lim, api(after), 1, second) == 0);
  }
  SUBCASE("a token bucket whose rate changed") {
    rate_limiter lim(1000);
    const auto before = api_with("{per: ip, rate: 10/minute, algorithm: token_bucket}");
    const auto after = api_with("{per: ip, rate: 20/minute, algorithm: token_bucket}");
    CHECK(admissions(lim, api(before), 1, 0) == 10);
    lim.rebase(*before, *after, 0);
    // 10 of 20 used is 30 s of arrival time, which the old reading takes as 5 of its 6 s
    // tokens: it admits 5 more (between the old quota and the new), and they fill the new bucket.
    CHECK(admissions(lim, api(before), 1, 0) == 5);
    CHECK(admissions(lim, api(after), 1, 0) == 0);
  }
}

TEST_CASE("a websocket block's messages_per_ip keeps its counts across a change of rate") {
  rate_limiter lim(1000);
  const auto before = api_with("{per: ip, rate: 1/s}", "{messages_per_ip: 10/second}");
  const auto after = api_with("{per: ip, rate: 1/s}", "{messages_per_ip: 12/second, idle_timeout: 1m}");
  const auto old_messages = message_route(before), new_messages = message_route(after);
  REQUIRE(old_messages.limits[0].id == new_messages.limits[0].id);
  CHECK(admissions(lim, old_messages, 1, 0, 8) == 8);
  CHECK(lim.rebase(*before, *after, 0) == 1);
  CHECK(admissions(lim, new_messages, 1, 0) == 4);
}

TEST_CASE("the key table keeps a rebased entry until the new definition's expiry") {
  // One entry in all: a second key must make room, by dropping an expired entry if there is one
  // and otherwise by evicting a live one, which is counted apart.
  rate_limiter lim(1);
  const auto before = api_with("{per: ip, rate: 10/10s}");
  const auto after = api_with("{per: ip, rate: 10/hour}");
  admit_spread(lim, api(before), 1, 8, 0, second);
  lim.rebase(*before, *after, 8 * second);
  // At 20 s the old window (newest at 7 s, 10 s long) would have let the entry go as expired.
  CHECK(admissions(lim, api(after), 2, 20 * second, 1) == 1);
  CHECK(lim.table_stats().expired_dropped == 0);
  CHECK(lim.table_stats().evictions == 1);
}

TEST_CASE("rebase_state sets the expiry of the new definition") {
  auto limit_of = [](const std::string& yaml) { return api(api_with(yaml)).limits[0]; };
  SUBCASE("a longer window keeps the entry until its newest admission leaves it") {
    const auto from = limit_of("{rate: 10/minute}"), to = limit_of("{rate: 10/hour}");
    const sliding_window w(10, minute);
    limit_state s;
    w.consume(s, 0);
    w.consume(s, 5 * second);
    rebase_state(from, to, s, 10 * second);
    CHECK(s.expires_at_ == 5 * second + hour);
    CHECK(sliding_window(10, hour).held(s, 10 * second) == 2);
  }
  SUBCASE("a bucket is full again at its rescaled arrival time") {
    const auto from = limit_of("{rate: 10/minute, algorithm: token_bucket}");
    const auto to = limit_of("{rate: 5/minute, algorithm: token_bucket}");
    const token_bucket b(10, minute, 10);
    limit_state s;
    for (int i = 0; i < 3; ++i) b.consume(s, 0);  // 3 used: 18 s ahead
    rebase_state(from, to, s, 0);
    CHECK(s.value_ == 36 * second);  // 3 used of 12 s each
    CHECK(s.expires_at_ == 36 * second);
  }
  SUBCASE("more used than the new burst is the whole bucket, no more") {
    const auto from = limit_of("{rate: 10/minute, algorithm: token_bucket}");
    const auto to = limit_of("{rate: 10/minute, algorithm: token_bucket, burst: 4}");
    const token_bucket b(10, minute, 10);
    limit_state s;
    for (int i = 0; i < 9; ++i) b.consume(s, 0);
    rebase_state(from, to, s, 0);
    CHECK(s.value_ == 24 * second);
    CHECK_FALSE(token_bucket(10, minute, 4).check(s, 0).allowed);
    CHECK(token_bucket(10, minute, 4).check(s, 6 * second).allowed);
  }
  SUBCASE("a token bucket turned window holds its used tokens one window from the reload") {
    const auto from = limit_of("{rate: 10/minute, algorithm: token_bucket}");
    const auto to = limit_of("{rate: 10/30s}");
    const token_bucket b(10, minute, 10);
    limit_state s;
    for (int i = 0; i < 2; ++i) b.consume(s, 0);
    rebase_state(from, to, s, second);
    CHECK(sliding_window(10, 30 * second).held(s, second) == 2);
    CHECK(s.expires_at_ == second + 30 * second);
    CHECK(s.value_ == 12 * second);  // the bucket's arrival time, left for old readers
  }
}
