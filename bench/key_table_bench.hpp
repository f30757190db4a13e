#pragma once
// What key_table_bench measures of one build of the limiter. The bench compiles its measuring
// code twice, once against the limiter as it stands and once (when SLUICE_BENCH_BASELINE names a
// git revision) against that revision's, in a namespace of its own, so both run in one process.
// Nothing in this header may name the `sluice` namespace: the baseline build renames it.

#include <cstdint>

namespace kt_bench {

/// What is timed: acquire() calls that find their key admitted (token bucket) or refused
/// (sliding window), or that bring a new key to a table full of live keys (each one evicts).
enum class workload { hit, refused_hit, insert };

/// One build of the limiter's key table, as the bench drives it.
struct variant {
  const char* name;  ///< "current" or "baseline"
  /// A limiter of `max_keys` set up for `w` (filled, warmed); owned by the caller.
  void* (*make)(workload w, std::uint64_t max_keys);
  /// Times `ops` more acquire() calls of the workload on it; nanoseconds in all.
  double (*run)(void* bench, std::uint64_t ops);
  /// Whether every call so far did what the workload says (all hits, all evictions, ...).
  bool (*valid)(const void* bench);
  /// Frees what make() built.
  void (*destroy)(void* bench);
  /// Fills a table of `max_keys` to its bound (every shard full) with keys holding one admission
  /// each and leaves it allocated; sets `held` to the keys it holds, returns heap bytes in use.
  std::uint64_t (*fill)(std::uint64_t max_keys, std::uint64_t& held);
};

/// The limiter as it stands.
extern const variant current_variant;
/// The limiter of SLUICE_BENCH_BASELINE (only linked when that is set).
extern const variant baseline_variant;

}  // namespace kt_bench
