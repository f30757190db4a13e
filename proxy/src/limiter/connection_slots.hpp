#pragma once
// Open client connections: in total and per client key, judged once at accept against the
// global cap, the per-key cap and the reserve. Exact across threads (a key's count changes under
// its shard's lock, the total by compare-and-swap), and bounded: only keys with a connection
// open have an entry, so the map never holds more entries than connections are open.
// Pure: no I/O; the clock is not needed.

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "common/ip_address.hpp"

namespace sluice::limiter {

/// Why a connection was refused at accept.
enum class connection_refusal {
  none,     ///< admitted
  per_key,  ///< the key holds its cap already
  global,   ///< the pool is full (for a peer not allowlisted: its share of the reserve too)
};

/// What an admitted connection may do.
enum class connection_class {
  normal,   ///< any request
  reserve,  ///< taken from the reserve by a peer not allowlisted: exempt requests only
};

/// The caps one acquire is judged against.
struct connection_caps {
  std::uint32_t max_total = 0;  ///< all connections; never 0 after config validation
  std::uint32_t per_key = 0;    ///< per client key; 0 = no cap
  /// The last `reserved` slots below max_total: allowlisted peers may take all of them, others
  /// at most half (rounded up), so allowlisted peers always keep slots no one else can take.
  std::uint32_t reserved = 0;
};

/// The answer to acquire().
struct connection_admission {
  connection_refusal refused = connection_refusal::none;
  connection_class kind = connection_class::normal;
  bool counted_per_key = false;  ///< release() must pass this back

  /// True when a slot was taken.
  bool admitted() const { return refused == connection_refusal::none; }
};

/// The open counts; shared by every thread that accepts or closes connections.
class connection_slots {
 public:
  /// Takes a slot for a connection from `key`, or says which cap refuses it. `per_key_exempt`:
  /// not counted per key (a trusted proxy carries many clients). `allowlisted`: may use the
  /// whole reserve, and is served there like any connection.
  connection_admission acquire(const ip_address& key, bool per_key_exempt, bool allowlisted,
                               const connection_caps& caps);
  /// Gives back a slot acquire() took, with the admission it returned. Exactly once each.
  void release(const ip_address& key, const connection_admission& admission);

  /// Connections open now.
  std::uint32_t open() const { return open_.load(std::memory_order_relaxed); }
  /// Connections open now from `key` (those counted per key).
  std::uint32_t open_for(const ip_address& key) const;
  /// Keys with at least one connection open (entries held).
  std::size_t keys() const;

 private:
  struct key_hash {
    std::size_t operator()(const ip_address& a) const;
  };
  // Sharded so closes on many workers do not meet on one lock; accepts are one thread's.
  struct alignas(64) shard {
    mutable std::mutex mu;
    std::unordered_map<ip_address, std::uint32_t, key_hash> open;  // only keys with connections
  };
  static constexpr std::size_t shard_count = 16;

  shard& shard_of(const ip_address& key);
  const shard& shard_of(const ip_address& key) const;
  bool take_total(std::uint32_t limit);
  bool take_reserve(std::uint32_t share);

  std::array<shard, shard_count> shards_;
  std::atomic<std::uint32_t> open_{0};
  std::atomic<std::uint32_t> reserve_open_{0};  // connection_class::reserve ones
};

}  // namespace sluice::limiter
