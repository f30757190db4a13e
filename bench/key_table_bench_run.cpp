// The measuring code of key_table_bench, compiled once per variant (see key_table_bench.hpp):
// KT_BENCH_VARIANT is current_variant or baseline_variant, KT_BENCH_NAME its name.

#include <malloc.h>

#include <algorithm>
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

// Visits the resident keys in a scattered order (a full-period LCG over a power of two, folded
// into [0, keys)), so consecutive hits do not share cache lines.
struct scattered {
  std::uint64_t keys, mask, x = 0;
  explicit scattered(std::uint64_t k) : keys(k), mask(std::bit_ceil(std::max<std::uint64_t>(k, 1)) - 1) {}
  std::uint64_t next() {
    do x = (x * 6364136223846793005ull + 1442695040888963407ull) & mask;
    while (x >= keys);
    return x;
  }
};

// One workload on one limiter, between timed slices.
struct bench {
  kt_bench::workload w;
  sluice::config::route route;
  rate_limiter lim;
  std::uint64_t resident;   // hits: the keys held; inserts: the next new key number
  scattered order;
  time_ns now = hour_ns;
  std::uint64_t ops_done = 0, admitted = 0, evictions_before = 0;

  bench(kt_bench::workload work, sluice::config::route r, std::uint64_t max_keys)
      : w(work), route(std::move(r)), lim(max_keys),
        // Hits run over three quarters of max_keys: the shards fill unevenly, and at the full
        // bound some would be evicting, which is the insert workload, not a hit.
        resident(w == kt_bench::workload::insert ? 2 * max_keys : max_keys / 4 * 3),
        order(resident) {}

  bool acquire(std::uint64_t n) {
    const limit_key k = key_of(1, n);
    return lim.acquire(route, std::span<const limit_key>(&k, 1), now += 1000).allowed();
  }
};

void* make(kt_bench::workload w, std::uint64_t max_keys) {
  using sluice::config::algorithm;
  // Hits admitted: a bucket that never runs dry nor fills up again while the bench runs (10^9
  // an hour). Refused hits and inserts: 1/hour, so every key stays live and each new one evicts.
  auto route = w == kt_bench::workload::hit
                   ? one_limit_route(algorithm::token_bucket, 1'000'000'000, 1h)
                   : one_limit_route(algorithm::sliding_window, 1, 1h);
  auto* b = new bench(w, std::move(route), max_keys);
  // Inserts: twice max_keys keys in, so every shard is at its bound. Hits: the resident keys,
  // then each used once more in the scattered order (used twice, as a returning client's is).
  for (std::uint64_t n = 0; n < b->resident; ++n) b->acquire(n);
  if (w != kt_bench::workload::insert)
    for (std::uint64_t i = 0; i < b->resident; ++i) b->acquire(b->order.next());
  b->evictions_before = b->lim.table_stats().evictions;
  return b;
}

// The timed loop, kept out of line so that a profiler can be told to count only it
// (valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*timed_run*').
[[gnu::noinline]] double timed_run(void* p, std::uint64_t ops) {
  auto& b = *static_cast<bench*>(p);
  std::uint64_t admitted = 0;
  const auto start = std::chrono::steady_clock::now();
  if (b.w == kt_bench::workload::insert)
    for (std::uint64_t i = 0; i < ops; ++i) admitted += b.acquire(b.resident++);
  else
    for (std::uint64_t i = 0; i < ops; ++i) admitted += b.acquire(b.order.next());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  b.ops_done += ops;
  b.admitted += admitted;
  return std::chrono::duration<double, std::nano>(elapsed).count();
}

bool valid(const void* p) {
  const auto& b = *static_cast<const bench*>(p);
  const auto st = b.lim.table_stats();
  switch (b.w) {
    case kt_bench::workload::hit:
      return b.admitted == b.ops_done && st.evictions == 0 && st.size == b.resident;
    case kt_bench::workload::refused_hit:
      return b.admitted == 0 && st.evictions == 0 && st.size == b.resident;
    case kt_bench::workload::insert:
      return b.admitted == b.ops_done && st.evictions - b.evictions_before == b.ops_done;
  }
  return false;
}

void destroy(void* p) { delete static_cast<bench*>(p); }

std::uint64_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

std::uint64_t fill(std::uint64_t max_keys, std::uint64_t& held) {
  // Left allocated for the caller's process to measure, then exit.
  auto* b = static_cast<bench*>(make(kt_bench::workload::insert, max_keys));
  held = b->lim.table_stats().size;
  return heap_in_use();
}

}  // namespace

namespace kt_bench {
const variant KT_BENCH_VARIANT = {KT_BENCH_NAME, &make, &timed_run, &valid, &destroy, &fill};
}  // namespace kt_bench
