#pragma once
// What key_table_bench measures of one build of the limiter. The bench compiles its measuring
// code twice, once against the limiter as it stands and once (when SLUICE_BENCH_BASELINE names a
// git revision) against that revision's, in a namespace of its own, so both run in one process.
// Nothing in this header may name the `sluice` namespace: the baseline build renames it.

#include <cstdint>

namespace kt_bench {

/// One build of the limiter's key table, as the bench drives it.
struct variant {
  const char* name;  ///< "current" or "baseline"
  /// ns per limiter::acquire that finds its key (token bucket, admitted), over a full table.
  double (*hit_ns)(std::uint64_t max_keys, std::uint64_t ops);
  /// ns per limiter::acquire that finds its key already refused (sliding window, 1/hour).
  double (*refused_hit_ns)(std::uint64_t max_keys, std::uint64_t ops);
  /// ns per limiter::acquire of a key never seen, with the table full of live keys (each evicts).
  double (*insert_ns)(std::uint64_t max_keys, std::uint64_t ops);
  /// Fills a table of `max_keys` to its bound (every shard full) with keys holding one admission
  /// each and leaves it allocated; sets `held` to the keys it holds, returns heap bytes in use.
  std::uint64_t (*fill)(std::uint64_t max_keys, std::uint64_t& held);
};

/// The limiter as it stands.
extern const variant current_variant;
/// The limiter of SLUICE_BENCH_BASELINE (only linked when that is set).
extern const variant baseline_variant;

}  // namespace kt_bench
