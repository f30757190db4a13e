#pragma once
// The key table's index within one shard: from a key's hash to the number of its entry.
//
// Open addressing, linear probing in Robin Hood order. A slot is 4 bytes, an 8-bit tag of the
// hash and a 24-bit entry number, so a probe reads an entry only when the tag matches (1 in 255
// otherwise) and a miss (every new key) reads no entry at all; a byte beside each slot holds its
// distance from its key's home. Deletion shifts the keys after it back (no tombstones, so probes
// never lengthen under churn). Sized at 8/7 slots per key of capacity: a load of 7/8 at the bound
// (Boost's flat containers' maximum; a search then reads 4.5 slots on average, one or two cache
// lines), 5.7 bytes per key. It starts at 16 slots and the owner moves it to its full size once
// (grow_to_full), so a big index is never rebuilt under load and no outgrown arrays are left in
// the allocator (doubling left 2 bytes per key of resident memory at a million keys).
//
// The index stores numbers only: the owner says which entry is whose (find's `same`) and puts
// every entry back after grow_to_full.

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace sluice::limiter {

/// Robin Hood index of entry numbers by 64-bit hash, for one shard of the key table.
class key_index {
 public:
  /// Entry numbers are below this: 24 bits.
  static constexpr std::uint64_t max_entries = std::uint64_t{1} << 24;
  /// No entry is found, or none could be placed.
  static constexpr std::uint32_t npos = UINT32_MAX;
  /// The farthest a key is ever placed from its home (its distance is kept in a byte). At a load
  /// of 7/8 distances stay far below it; only hashes made to collide reach it, and then fits()
  /// says no: a hash flood costs the new keys that land in the run it flooded, never the index.
  static constexpr std::uint32_t max_probe = 255;

  /// An index for up to `capacity` entries (at most max_entries), starting small.
  explicit key_index(std::uint64_t capacity)
      : full_size_(static_cast<std::uint32_t>(
            std::max<std::uint64_t>(min_slots, capacity + (capacity + 6) / 7))),
        slots_(min_slots, 0),
        probe_(min_slots, 0) {}

  /// The entry of hash `h` for which `same(entry number)` holds, or npos.
  template <class Same>
  std::uint32_t find(std::uint64_t h, Same&& same) const {
    const std::uint32_t tag = tag_of(h);
    std::uint32_t p = home(h);
    for (std::uint32_t d = 0;; ++d, p = next(p)) {
      const std::uint32_t s = slots_[p];
      // Robin Hood order: no key sits nearer its home than a key it displaced, so an empty slot
      // or one nearer its own home than `d` is to ours ends the search.
      if (s == 0 || probe_[p] < d) return npos;
      if ((s & ~entry_mask) == tag && same(s & entry_mask)) return s & entry_mask;
    }
  }

  /// Whether an entry of hash `h` can be placed without any distance passing max_probe.
  bool fits(std::uint64_t h) const {
    // Robin Hood insertion puts the new key where the first key nearer its home than the new one
    // would be sits, and moves the keys from there to the next empty slot one slot on.
    std::uint32_t p = home(h), d = 0;
    while (slots_[p] != 0 && probe_[p] >= d) {
      if (++d > max_probe) return false;
      p = next(p);
    }
    for (; slots_[p] != 0; p = next(p))
      if (probe_[p] == max_probe) return false;
    return true;
  }

  /// Adds entry `i` (absent) of hash `h`; only after fits(h), or when re-placing the few entries
  /// of a shard after grow_to_full().
  void place(std::uint32_t i, std::uint64_t h) {
    std::uint32_t in_hand = tag_of(h) | i;
    std::uint32_t d = 0;
    for (std::uint32_t p = home(h);; p = next(p), ++d) {
      if (slots_[p] == 0) {
        slots_[p] = in_hand;
        probe_[p] = static_cast<std::uint8_t>(d);
        return;
      }
      if (probe_[p] < d) {  // a key nearer its home gives up its slot and moves on
        std::swap(in_hand, slots_[p]);
        const std::uint32_t theirs = probe_[p];
        probe_[p] = static_cast<std::uint8_t>(d);
        d = theirs;
      }
    }
  }

  /// Removes entry `i` (present) of hash `h`, pulling the keys after it one slot back home.
  void remove(std::uint32_t i, std::uint64_t h) {
    const std::uint32_t want = tag_of(h) | i;
    std::uint32_t p = home(h);
    while (slots_[p] != want) p = next(p);
    for (std::uint32_t q = next(p); slots_[q] != 0 && probe_[q] > 0; p = q, q = next(q)) {
      slots_[p] = slots_[q];
      probe_[p] = static_cast<std::uint8_t>(probe_[q] - 1);
    }
    slots_[p] = 0;
    probe_[p] = 0;
  }

  /// True when a shard about to hold `keys` keys should call grow_to_full() first.
  bool wants_growth(std::uint64_t keys) const {
    return keys * 8 > std::uint64_t{slots_.size()} * 7 && slots_.size() < full_size_;
  }
  /// Empties the index at its full size; the owner then places every entry it holds again.
  void grow_to_full() {
    slots_.assign(full_size_, 0);
    probe_.assign(full_size_, 0);
  }

  /// Slots now (bytes: 5 each).
  std::size_t slot_count() const { return slots_.size(); }

 private:
  static constexpr unsigned entry_bits = 24;
  static constexpr std::uint32_t entry_mask = (1u << entry_bits) - 1;
  static constexpr std::uint32_t min_slots = 16;

  // The low 32 bits of the hash, scaled to the slot count (no power of two needed). The key
  // table's shard takes bits 40 to 45, the tag the top 8.
  std::uint32_t home(std::uint64_t h) const {
    return static_cast<std::uint32_t>(
        (std::uint64_t{static_cast<std::uint32_t>(h)} * slots_.size()) >> 32);
  }
  static std::uint32_t tag_of(std::uint64_t h) {
    return (static_cast<std::uint32_t>(h >> 56) % 255 + 1) << entry_bits;  // never 0: empty
  }
  std::uint32_t next(std::uint32_t p) const {
    return p + 1 == slots_.size() ? 0 : p + 1;
  }

  std::uint32_t full_size_;
  std::vector<std::uint32_t> slots_;  // 0 empty, else tag_of(hash) | entry number
  std::vector<std::uint8_t> probe_;   // each slot's distance from its key's home
};

}  // namespace sluice::limiter
