// The measuring code of key_table_bench, compiled once per variant (see key_table_bench.hpp):
// KT_BENCH_VARIANT is current_variant or baseline_variant, KT_BENCH_NAME its name.

#include <malloc.h>

#include <bit>
#include <chrono>
#include <cstring>
#include <span>

#include "config/config.hpp"
#include "key_table_bench.hpp"
#include "limiter/limiter.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::limiter::limit_key;
using sluice::limiter::time_ns;
using rate_limiter = sluice::limiter::limiter;

constexpr time_ns hour_ns = 3'600'000'000'000;

// Key n: 16 well-mixed bytes (splitmix64 twice), as a keyed digest of a header value would be.
limit_key key_of(std::uint64_t limit_id, std::uint64_t n) {
  auto mix = [](std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  limit_key k;
  k.limit_id = limit_id;
  const std::uint64_t a = mix(n), b = mix(n ^ 0xdeadbeefcafef00dull);
  std::memcpy(k.value.data(), &a, 8);
  std::memcpy(k.value.data() + 8, &b, 8);
  return k;
}

sluice::config::route one_limit_route(sluice::config::algorithm algo, std::uint64_t count,
                                      std::chrono::nanoseconds period) {
  sluice::config::limit l;
  l.name = "bench";
  l.id = 1;
  l.per = sluice::config::key_kind::header;
  l.header = "x-api-key";
  l.rate = sluice::config::rate{count, period};
  l.algo = algo;
  l.burst = count;
  sluice::config::route r;
  r.name = "bench";
  r.pattern = "/";
  r.limits.push_back(l);
  return r;
}

// The keys of a route's one limit, n = 0..: each request carries one.
struct keyed {
  const sluice::config::route& route;
  rate_limiter& lim;
  bool acquire(std::uint64_t n, time_ns now) {
    const limit_key k = key_of(1, n);
    return lim.acquire(route, std::span<const limit_key>(&k, 1), now).allowed();
  }
};

double ns_per_op(std::chrono::steady_clock::time_point start, std::uint64_t ops) {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
             .count() /
         static_cast<double>(ops);
}

// Visits the resident keys in a scattered order (a full-period LCG over a power of two, folded
// into [0, keys)), so consecutive hits do not share cache lines.
struct scattered {
  std::uint64_t keys, mask, x = 0;
  explicit scattered(std::uint64_t k) : keys(k), mask(std::bit_ceil(k) - 1) {}
  std::uint64_t next() {
    do x = (x * 6364136223846793005ull + 1442695040888963407ull) & mask;
    while (x >= keys);
    return x;
  }
};

// The timed loops, kept out of line so that a profiler can be told to count only them
// (valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*timed_*').
[[gnu::noinline]] double timed_hits(keyed& k, scattered& order, std::uint64_t ops, time_ns& now,
                                    std::uint64_t& admitted) {
  admitted = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < ops; ++i) admitted += k.acquire(order.next(), now += 1000);
  return ns_per_op(start, ops);
}

[[gnu::noinline]] double timed_inserts(keyed& k, std::uint64_t first, std::uint64_t ops,
                                       time_ns& now) {
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t n = first; n < first + ops; ++n) k.acquire(n, now += 1000);
  return ns_per_op(start, ops);
}

// Hits run over three quarters of max_keys resident keys: the shards fill unevenly, and at the
// full bound some would be evicting, which is the insert case below, not a hit.
std::uint64_t resident_for(std::uint64_t max_keys) { return max_keys / 4 * 3; }

// Inserts keys 0..resident-1, then uses each once in the scattered order (so every key has been
// used twice, as a returning client's is), then times `ops` more uses.
double time_hits(const sluice::config::route& r, std::uint64_t max_keys, std::uint64_t ops,
                 std::uint64_t& admitted) {
  rate_limiter lim(max_keys);
  keyed k{r, lim};
  const std::uint64_t resident = resident_for(max_keys);
  time_ns now = hour_ns;
  for (std::uint64_t n = 0; n < resident; ++n) k.acquire(n, now += 1000);
  scattered order(resident);
  for (std::uint64_t i = 0; i < resident; ++i) k.acquire(order.next(), now += 1000);
  const double ns = timed_hits(k, order, ops, now, admitted);
  const auto st = lim.table_stats();
  return st.evictions == 0 && st.expired_dropped == 0 && st.size == resident ? ns : -1;
}

double hit_ns(std::uint64_t max_keys, std::uint64_t ops) {
  // A bucket that never runs dry and never fills up again while the bench runs: 10^9 an hour.
  const auto r = one_limit_route(sluice::config::algorithm::token_bucket, 1'000'000'000, 1h);
  std::uint64_t admitted = 0;
  const double ns = time_hits(r, max_keys, ops, admitted);
  return admitted == ops ? ns : -1;
}

double refused_hit_ns(std::uint64_t max_keys, std::uint64_t ops) {
  const auto r = one_limit_route(sluice::config::algorithm::sliding_window, 1, 1h);
  std::uint64_t admitted = 0;
  const double ns = time_hits(r, max_keys, ops, admitted);
  return admitted == 0 ? ns : -1;
}

double insert_ns(std::uint64_t max_keys, std::uint64_t ops) {
  // 1/hour: every key stays live for the whole run, so once every shard is at its bound (twice
  // max_keys keys in), each new key evicts one.
  const auto r = one_limit_route(sluice::config::algorithm::sliding_window, 1, 1h);
  rate_limiter lim(max_keys);
  keyed k{r, lim};
  time_ns now = hour_ns;
  for (std::uint64_t n = 0; n < 2 * max_keys; ++n) k.acquire(n, now += 1000);
  const std::uint64_t before = lim.table_stats().evictions;
  const double ns = timed_inserts(k, 2 * max_keys, ops, now);
  return lim.table_stats().evictions - before == ops ? ns : -1;
}

std::uint64_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

std::uint64_t fill(std::uint64_t max_keys, std::uint64_t& held) {
  const auto r = one_limit_route(sluice::config::algorithm::sliding_window, 1, 1h);
  auto* lim = new rate_limiter(max_keys);  // left for the caller's process to measure, then exit
  keyed k{r, *lim};
  time_ns now = hour_ns;
  // Twice max_keys keys: the shards fill unevenly, and only then is every one at its bound.
  for (std::uint64_t n = 0; n < 2 * max_keys; ++n) k.acquire(n, now += 1000);
  held = lim->table_stats().size;
  return heap_in_use();
}

}  // namespace

namespace kt_bench {
const variant KT_BENCH_VARIANT = {KT_BENCH_NAME, &hit_ns, &refused_hit_ns, &insert_ns, &fill};
}  // namespace kt_bench
