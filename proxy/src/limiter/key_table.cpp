#include "limiter/key_table.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include <boost/unordered/unordered_flat_map.hpp>

#include "limiter/key_index.hpp"

namespace sluice::limiter {
namespace {

constexpr std::uint32_t npos = UINT32_MAX;
constexpr unsigned chunk_bits = 8;
constexpr std::uint32_t chunk_size = 1u << chunk_bits;
// How many live keys an eviction looks at from the end of a list for a dead one before it takes
// the first of them. A limit's once-seen keys are in first-use order, which is their expiry order
// (one admission each, one period), so dead ones gather at the end; the look catches the
// exceptions between sweeps (keys whose request another limit refused consumed nothing and are
// dead at once) without making every insert at the bound read many entries.
constexpr int max_tail_scan = 8;
// 24-bit entry numbers in the index: a shard of 2^24 keys (64 shards: a billion keys, 80 GB).
constexpr std::uint64_t max_shard_capacity = key_index::max_entries;

// Where an entry is. Probation: used once. Protected: used again since. Limited: found refused
// by an eviction's scan (moved there so that later scans do not meet it again); a use moves it
// back to protected.
enum segment : std::uint8_t { probation = 0, protected_ = 1, limited = 2, unused = 3 };
constexpr std::size_t segment_count = 3;

struct entry {
  std::array<std::uint8_t, 16> value{};  // limit_key::value; the limit id is limit_slot's
  std::uint32_t prev = npos;        // towards more recently used on its segment's list
  std::uint32_t next = npos;        // towards less recently used; the free list while unused
  std::uint32_t limit_slot = 0;     // index into shard::limits
  segment seg = unused;
  limit_state state;
};
// The limit id lives once per limit in the shard, not once per key: that pays for the segment
// and the limit slot, so a key costs 72 bytes plus 5.7 of index at the bound (the flat set index
// before cost 5.8 to 11.6, by its power-of-two sizes).
static_assert(sizeof(entry) == 72);

struct list {
  std::uint32_t head = npos;  // most recently used
  std::uint32_t tail = npos;  // least recently used
  std::uint32_t size = 0;
};

// One limit's keys in one shard.
struct limit_record {
  std::uint64_t id = 0;
  std::uint32_t count = 0;        // keys of this limit in the shard; 0: the record is free
  std::uint32_t next_free = npos;  // the free-record list
  std::array<list, segment_count> lists{};
};

// Two 8-byte compares; std::array's == calls memcmp here.
bool same_value(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b) {
  std::uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a.data(), 8);
  std::memcpy(&a1, a.data() + 8, 8);
  std::memcpy(&b0, b.data(), 8);
  std::memcpy(&b1, b.data() + 8, 8);
  return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

bool holds_state(const limit_state& s, time_ns now) {
  return s.in_flight_ > 0 || now < s.expires_at_;
}

}  // namespace

struct key_table::shard {
  explicit shard(std::uint64_t cap)
      : capacity(std::min(cap, max_shard_capacity)),
        // The first insert at the bound sweeps; later ones wait for a quarter of the capacity,
        // which keeps a flood of live keys at O(1) amortised work per insert.
        sweep_interval(std::max<std::uint64_t>(1, capacity / 4)),
        inserts_since_sweep(sweep_interval),
        index(capacity) {}

  entry& at(std::uint32_t i) { return chunks[i >> chunk_bits][i & (chunk_size - 1)]; }
  const entry& at(std::uint32_t i) const { return chunks[i >> chunk_bits][i & (chunk_size - 1)]; }

  // ---- segment lists

  list& list_of(const entry& e) { return limits[e.limit_slot].lists[e.seg]; }

  void unlink(std::uint32_t i) {
    entry& e = at(i);
    list& l = list_of(e);
    if (e.prev != npos) at(e.prev).next = e.next; else l.head = e.next;
    if (e.next != npos) at(e.next).prev = e.prev; else l.tail = e.prev;
    e.prev = e.next = npos;
    --l.size;
  }

  void push_front(std::uint32_t i, segment seg) {
    entry& e = at(i);
    list& l = limits[e.limit_slot].lists[seg];
    e.seg = seg;
    e.prev = npos;
    e.next = l.head;
    if (l.head != npos) at(l.head).prev = i;
    l.head = i;
    if (l.tail == npos) l.tail = i;
    ++l.size;
  }

  void move_to_front(std::uint32_t i, segment seg) {
    unlink(i);
    push_front(i, seg);
  }

  // A use: from probation or limited to protected, or to the front of protected.
  void touch(std::uint32_t i) {
    const entry& e = at(i);
    if (e.seg == protected_ && limits[e.limit_slot].lists[protected_].head == i) return;
    move_to_front(i, protected_);
  }

  // ---- index

  limit_key key_at(std::uint32_t i) const {
    limit_key k;
    k.limit_id = limits[at(i).limit_slot].id;
    k.value = at(i).value;
    return k;
  }

  std::uint32_t lookup(const limit_key& k, std::uint64_t h) const {
    return index.find(h, [&](std::uint32_t i) {
      const entry& e = at(i);
      return same_value(e.value, k.value) && limits[e.limit_slot].id == k.limit_id;
    });
  }

  // The index at its full size, every entry placed again: once per shard, at its 15th key.
  void grow_index() {
    index.grow_to_full();
    for (std::uint32_t i = 0; i < allocated; ++i)
      if (at(i).seg != unused) index.place(i, hash_of(key_at(i)));
  }

  // ---- per-limit records

  std::uint32_t slot_for(std::uint64_t id) {
    const auto [it, inserted] = slot_of.try_emplace(id, 0u);
    if (!inserted) return it->second;
    std::uint32_t s;
    if (free_record != npos) {
      s = free_record;
      free_record = limits[s].next_free;
    } else {
      s = static_cast<std::uint32_t>(limits.size());
      limits.emplace_back();
    }
    limits[s] = limit_record{};
    limits[s].id = id;
    it->second = s;
    return s;
  }

  // The limit that gives up a key for an insert of limit `id`: itself if it holds at least its
  // fair share (capacity over the limits present, counting it), else the one holding the most,
  // which then holds more than its share: a limit within its share is never the payer.
  std::uint32_t payer(std::uint64_t id) const {
    const auto it = slot_of.find(id);
    const std::uint64_t present = slot_of.size() + (it == slot_of.end() ? 1 : 0);
    if (it != slot_of.end() && std::uint64_t{limits[it->second].count} * present >= capacity)
      return it->second;
    std::uint32_t most = npos;
    for (const auto& [other_id, s] : slot_of)
      if (most == npos || limits[s].count > limits[most].count) most = s;
    return most;
  }

  // ---- allocation

  std::uint32_t allocate() {
    if (free_head != npos) {
      const std::uint32_t i = free_head;
      free_head = at(i).next;
      return i;
    }
    // Only called below the bound with no free entry, so allocated < capacity: the last chunk is
    // cut to the capacity rather than rounded up to a whole chunk.
    if (allocated == chunks.size() * chunk_size) {
      const auto len = static_cast<std::uint32_t>(
          std::min<std::uint64_t>(chunk_size, capacity - allocated));
      chunks.push_back(std::make_unique<entry[]>(len));
    }
    return allocated++;
  }

  void erase(std::uint32_t i) {
    index.remove(i, hash_of(key_at(i)));
    unlink(i);
    entry& e = at(i);
    const std::uint32_t s = e.limit_slot;
    e.state = limit_state{};  // frees a sliding-window log
    e.seg = unused;
    e.next = free_head;
    free_head = i;
    --size;
    published_size.store(size, std::memory_order_relaxed);
    if (--limits[s].count == 0) {
      slot_of.erase(limits[s].id);
      limits[s].next_free = free_record;
      free_record = s;
    }
  }

  // ---- eviction

  // Drops every entry that holds no state, in memory order (the chunks are read front to back).
  std::uint64_t sweep(time_ns now) {
    std::uint64_t dropped = 0;
    for (std::uint32_t i = 0; i < allocated; ++i) {
      if (at(i).seg != unused && !holds_state(at(i).state, now)) {
        erase(i);
        ++dropped;
      }
    }
    return dropped;
  }

  // Makes room from one list of limit `slot`, searching from its least recently used end: drops
  // a dead entry if one is met within the look, else evicts the first live one. In-flight
  // entries are moved to the front (they are in use, and left at the end they would hide the
  // evictable ones behind them); refused entries met on probation or protected move to limited,
  // to be evicted last. Every entry is met at most once. False when nothing could go.
  bool take(std::uint32_t slot, segment seg, time_ns now) {
    const list& l = limits[slot].lists[seg];
    std::uint32_t victim = npos;
    int looked = 0;
    std::uint32_t steps = l.size;
    for (std::uint32_t i = l.tail; i != npos && steps > 0 && looked < max_tail_scan; --steps) {
      const std::uint32_t towards_head = at(i).prev;
      const limit_state& st = at(i).state;
      if (st.in_flight_ > 0) {
        move_to_front(i, seg);
      } else if (!holds_state(st, now)) {
        erase(i);
        expired_dropped.fetch_add(1, std::memory_order_relaxed);
        return true;
      } else if (seg != limited && st.refused_) {
        move_to_front(i, limited);
      } else if (seg == limited && !st.refused_) {
        move_to_front(i, protected_);  // cleared from outside (for_each): no longer kept last
      } else {
        if (victim == npos) victim = i;
        ++looked;
      }
      i = towards_head;
    }
    if (victim == npos) return false;
    evictions.fetch_add(1, std::memory_order_relaxed);
    if (at(victim).state.refused_) evictions_limited.fetch_add(1, std::memory_order_relaxed);
    erase(victim);
    return true;
  }

  // Tries `seg` of every limit but `except`, in record order, until one gives a key.
  bool take_from_others(std::uint32_t except, segment seg, time_ns now) {
    for (std::uint32_t s = 0; s < limits.size(); ++s)
      if (s != except && limits[s].count > 0 && limits[s].lists[seg].size > 0 && take(s, seg, now))
        return true;
    return false;
  }

  // The eviction order of key_table.hpp, steps 1 to 5.
  bool make_room(std::uint64_t id, time_ns now) {
    if (++inserts_since_sweep >= sweep_interval) {
      inserts_since_sweep = 0;
      const auto dropped = sweep(now);
      expired_dropped.fetch_add(dropped, std::memory_order_relaxed);
      if (size < capacity) return true;
    }
    const std::uint32_t pay = payer(id);
    if (pay == npos) return false;  // not reached: at the bound some limit holds keys
    if (take(pay, probation, now) || take(pay, protected_, now)) return true;
    if (take_from_others(pay, probation, now)) return true;
    if (take(pay, limited, now)) return true;
    return take_from_others(pay, protected_, now) || take_from_others(pay, limited, now);
  }

  // Adds `key` (hash h, absent, size below capacity); npos if the index cannot place it.
  std::uint32_t insert(const limit_key& key, std::uint64_t h) {
    if (index.wants_growth(size + 1)) grow_index();
    if (!index.fits(h)) return npos;
    const std::uint32_t slot = slot_for(key.limit_id);
    const std::uint32_t i = allocate();
    entry& e = at(i);
    e.value = key.value;
    e.limit_slot = slot;
    e.state = limit_state{};
    push_front(i, probation);
    index.place(i, h);
    ++limits[slot].count;
    ++size;
    published_size.store(size, std::memory_order_relaxed);
    return i;
  }

  std::mutex mu;
  std::vector<std::unique_ptr<entry[]>> chunks;
  std::uint32_t allocated = 0;
  std::uint32_t free_head = npos;
  std::uint64_t size = 0;
  std::uint64_t capacity;
  std::uint64_t sweep_interval;
  std::uint64_t inserts_since_sweep;
  key_index index;
  std::vector<limit_record> limits;
  std::uint32_t free_record = npos;
  boost::unordered_flat_map<std::uint64_t, std::uint32_t> slot_of;  // limit id -> limits index
  std::atomic<std::uint64_t> published_size{0};
  std::atomic<std::uint64_t> evictions{0};
  std::atomic<std::uint64_t> evictions_limited{0};
  std::atomic<std::uint64_t> expired_dropped{0};
  std::atomic<std::uint64_t> insert_failures{0};
};

key_table::key_table(std::uint64_t max_keys, unsigned shards) : capacity_(0) {
  const unsigned n = std::bit_floor(std::max(1u, shards));
  shard_mask_ = n - 1;
  // Split the bound so the shards add up to exactly max_keys (short of a shard's own ceiling).
  for (unsigned i = 0; i < n; ++i) {
    const std::uint64_t share = max_keys / n + (i < max_keys % n ? 1 : 0);
    shards_.push_back(std::make_unique<shard>(std::max<std::uint64_t>(1, share)));
    capacity_ += shards_.back()->capacity;
  }
}

key_table::~key_table() = default;

unsigned key_table::shard_of(const limit_key& key) const { return shard_index(hash_of(key)); }

unsigned key_table::shard_index(std::uint64_t hash) const {
  // Bits 40 up: the index inside the shard uses the low 32 and the top 8.
  return static_cast<unsigned>(hash >> 40) & shard_mask_;
}

std::mutex& key_table::shard_mutex(unsigned i) { return shards_[i]->mu; }

limit_state* key_table::find(const limit_key& key) {
  const std::uint64_t h = hash_of(key);
  shard& s = *shards_[shard_index(h)];
  const std::uint32_t i = s.lookup(key, h);
  return i == npos ? nullptr : &s.at(i).state;
}

limit_state* key_table::find_or_insert(const limit_key& key, time_ns now) {
  const std::uint64_t h = hash_of(key);
  shard& s = *shards_[shard_index(h)];
  if (const std::uint32_t i = s.lookup(key, h); i != npos) {
    s.touch(i);
    return &s.at(i).state;
  }
  std::uint32_t i = npos;
  if (s.size < s.capacity || s.make_room(key.limit_id, now)) i = s.insert(key, h);
  if (i == npos) {
    s.insert_failures.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  return &s.at(i).state;
}

void key_table::for_each(const std::function<void(const limit_key&, limit_state&)>& fn) {
  for (const auto& sp : shards_) {
    shard& s = *sp;
    std::lock_guard lock(s.mu);
    for (std::uint32_t i = 0; i < s.allocated; ++i)
      if (s.at(i).seg != unused) fn(s.key_at(i), s.at(i).state);
  }
}

key_table_stats key_table::stats() const {
  key_table_stats out;
  out.capacity = capacity_;
  for (const auto& s : shards_) {
    out.size += s->published_size.load(std::memory_order_relaxed);
    out.evictions += s->evictions.load(std::memory_order_relaxed);
    out.evictions_limited += s->evictions_limited.load(std::memory_order_relaxed);
    out.expired_dropped += s->expired_dropped.load(std::memory_order_relaxed);
    out.insert_failures += s->insert_failures.load(std::memory_order_relaxed);
  }
  return out;
}

}  // namespace sluice::limiter
