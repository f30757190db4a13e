#include "limiter/key_table.hpp"

#include <algorithm>
#include <bit>

namespace sluice::limiter {
namespace {

constexpr std::uint32_t npos = UINT32_MAX;
constexpr unsigned chunk_bits = 8;
constexpr std::uint32_t chunk_size = 1u << chunk_bits;
// How many live keys eviction looks at from the LRU end for a dead one before it evicts the
// least recently used live key.
constexpr int max_tail_scan = 64;

struct entry {
  limit_key key;
  std::uint32_t prev = npos;  // towards more recently used
  std::uint32_t next = npos;  // towards less recently used; the free list while unused
  limit_state state;
};

bool holds_state(const limit_state& s, time_ns now) {
  return s.in_flight_ > 0 || now < s.expires_at_;
}

}  // namespace

struct key_table::shard {
  struct index_hash {
    using is_transparent = void;
    const shard* owner;
    std::size_t operator()(std::uint32_t i) const { return hash_of(owner->at(i).key); }
    std::size_t operator()(const limit_key& k) const { return hash_of(k); }
  };
  struct index_equal {
    using is_transparent = void;
    const shard* owner;
    bool operator()(std::uint32_t a, std::uint32_t b) const { return a == b; }
    bool operator()(const limit_key& k, std::uint32_t i) const { return owner->at(i).key == k; }
    bool operator()(std::uint32_t i, const limit_key& k) const { return owner->at(i).key == k; }
  };

  explicit shard(std::uint64_t cap)
      : capacity(cap),
        // The first insert at the bound sweeps; later ones wait for a quarter of the capacity,
        // which keeps a flood of live keys at O(1) amortised work per insert.
        sweep_interval(std::max<std::uint64_t>(1, cap / 4)),
        inserts_since_sweep(sweep_interval),
        index(0, index_hash{this}, index_equal{this}) {}

  entry& at(std::uint32_t i) { return chunks[i >> chunk_bits][i & (chunk_size - 1)]; }
  const entry& at(std::uint32_t i) const { return chunks[i >> chunk_bits][i & (chunk_size - 1)]; }

  void unlink(std::uint32_t i) {
    entry& e = at(i);
    if (e.prev != npos) at(e.prev).next = e.next; else lru_head = e.next;
    if (e.next != npos) at(e.next).prev = e.prev; else lru_tail = e.prev;
    e.prev = e.next = npos;
  }

  void push_front(std::uint32_t i) {
    entry& e = at(i);
    e.prev = npos;
    e.next = lru_head;
    if (lru_head != npos) at(lru_head).prev = i;
    lru_head = i;
    if (lru_tail == npos) lru_tail = i;
  }

  std::uint32_t allocate() {
    if (free_head != npos) {
      const std::uint32_t i = free_head;
      free_head = at(i).next;
      return i;
    }
    if (allocated == chunks.size() * chunk_size)
      chunks.push_back(std::make_unique<entry[]>(chunk_size));
    return allocated++;
  }

  void erase(std::uint32_t i) {
    index.erase(i);
    unlink(i);
    at(i).state = limit_state{};  // frees a sliding-window log
    at(i).next = free_head;
    free_head = i;
    --size;
    published_size.store(size, std::memory_order_relaxed);
  }

  std::uint64_t sweep(time_ns now) {
    std::uint64_t dropped = 0;
    for (std::uint32_t i = lru_tail; i != npos;) {
      const std::uint32_t towards_head = at(i).prev;
      if (!holds_state(at(i).state, now)) {
        erase(i);
        ++dropped;
      }
      i = towards_head;
    }
    return dropped;
  }

  bool make_room(time_ns now) {
    if (++inserts_since_sweep >= sweep_interval) {
      inserts_since_sweep = 0;
      const auto dropped = sweep(now);
      expired_dropped.fetch_add(dropped, std::memory_order_relaxed);
      if (size < capacity) return true;
    }
    // Between sweeps, look for a dead entry among the least recently used ones first (dead keys
    // gather there); only if there is none is a live key evicted. In-flight (pinned) entries are
    // moved to the front as they are met: they are in use, and left at the tail they would hide
    // the evictable entries behind them.
    std::uint32_t victim = npos;
    int looked = 0;
    std::uint64_t steps = 0;
    for (std::uint32_t i = lru_tail; i != npos && looked < max_tail_scan && steps < size; ++steps) {
      const std::uint32_t towards_head = at(i).prev;
      const limit_state& st = at(i).state;
      if (st.in_flight_ > 0) {
        unlink(i);
        push_front(i);
      } else if (!holds_state(st, now)) {
        victim = i;
        break;
      } else {
        if (victim == npos) victim = i;
        ++looked;
      }
      i = towards_head;
    }
    if (victim == npos) return false;  // every entry is in flight
    if (holds_state(at(victim).state, now)) {
      evictions.fetch_add(1, std::memory_order_relaxed);
      if (at(victim).state.refused_) evictions_limited.fetch_add(1, std::memory_order_relaxed);
    } else
      expired_dropped.fetch_add(1, std::memory_order_relaxed);
    const std::uint32_t i = victim;
    erase(i);
    return true;
  }

  std::mutex mu;
  std::vector<std::unique_ptr<entry[]>> chunks;
  std::uint32_t allocated = 0;
  std::uint32_t free_head = npos;
  std::uint32_t lru_head = npos;  // most recently used
  std::uint32_t lru_tail = npos;  // least recently used
  std::uint64_t size = 0;
  std::uint64_t capacity;
  std::uint64_t sweep_interval;
  std::uint64_t inserts_since_sweep;
  boost::unordered_flat_set<std::uint32_t, index_hash, index_equal> index;
  std::atomic<std::uint64_t> published_size{0};
  std::atomic<std::uint64_t> evictions{0};
  std::atomic<std::uint64_t> evictions_limited{0};
  std::atomic<std::uint64_t> expired_dropped{0};
  std::atomic<std::uint64_t> insert_failures{0};
};

key_table::key_table(std::uint64_t max_keys, unsigned shards) : capacity_(max_keys) {
  const unsigned n = std::bit_floor(std::max(1u, shards));
  shard_mask_ = n - 1;
  // Split the bound so the shards add up to exactly max_keys.
  for (unsigned i = 0; i < n; ++i) {
    const std::uint64_t share = max_keys / n + (i < max_keys % n ? 1 : 0);
    shards_.push_back(std::make_unique<shard>(std::max<std::uint64_t>(1, share)));
  }
}

key_table::~key_table() = default;

unsigned key_table::shard_of(const limit_key& key) const {
  // High bits: the flat set uses the low ones inside the shard.
  return static_cast<unsigned>(hash_of(key) >> 40) & shard_mask_;
}

std::mutex& key_table::shard_mutex(unsigned i) { return shards_[i]->mu; }

limit_state* key_table::find(const limit_key& key) {
  shard& s = *shards_[shard_of(key)];
  auto it = s.index.find(key);
  return it == s.index.end() ? nullptr : &s.at(*it).state;
}

limit_state* key_table::find_or_insert(const limit_key& key, time_ns now) {
  shard& s = *shards_[shard_of(key)];
  if (auto it = s.index.find(key); it != s.index.end()) {
    s.unlink(*it);
    s.push_front(*it);
    return &s.at(*it).state;
  }
  if (s.size >= s.capacity && !s.make_room(now)) {
    s.insert_failures.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  const std::uint32_t i = s.allocate();
  entry& e = s.at(i);
  e.key = key;
  e.state = limit_state{};
  s.index.insert(i);
  s.push_front(i);
  ++s.size;
  s.published_size.store(s.size, std::memory_order_relaxed);
  return &e.state;
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

void key_table::for_each(const std::function<void(const limit_key&, limit_state&)>& fn) {
  for (auto& s : shards_) {
    std::lock_guard lock(s->mu);
    for (const std::uint32_t i : s->index) fn(s->at(i).key, s->at(i).state);
  }
}

}  // namespace sluice::limiter
