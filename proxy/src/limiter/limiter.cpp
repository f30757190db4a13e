#include "limiter/limiter.hpp"

#include <algorithm>
#include <mutex>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "config/message_limit.hpp"
#include "limiter/rebase.hpp"
#include "limiter/sliding_window.hpp"
#include "limiter/token_bucket.hpp"

namespace sluice::limiter {
namespace {

constexpr time_ns in_flight_retry_ns = 1'000'000'000;  // no way to know; one second is polite
// How long after a rebase a sliding window's leftover log is kept on a key that became a token
// bucket. A request decides one synchronous step after taking its snapshot, so the last reader
// of the old definition is gone within microseconds of the swap; ten seconds is a wide margin
// and still short next to how long a busy key lives.
constexpr time_ns leftover_log_keep_ns = 10'000'000'000;

unsigned shards_for(std::uint64_t max_keys) {
  // Small tables get one shard, so LRU order is global; big ones spread over up to 64 locks.
  return static_cast<unsigned>(std::clamp<std::uint64_t>(max_keys / 1024, 1, 64));
}

verdict rate_verdict(const config::limit& l, limit_state& s, time_ns now) {
  const auto period = to_ns(l.rate->period);
  if (l.algo == config::algorithm::sliding_window)
    return sliding_window(l.rate->count, period).check(s, now);
  return token_bucket(l.rate->count, period, l.burst).check(s, now);
}

verdict rate_peek(const config::limit& l, const limit_state& s, time_ns now) {
  const auto period = to_ns(l.rate->period);
  if (l.algo == config::algorithm::sliding_window)
    return sliding_window(l.rate->count, period).peek(s, now);
  return token_bucket(l.rate->count, period, l.burst).check(s, now);
}

// Expiries only move later here: in steady state each admission's is later than the last one's
// anyway, and around a reload a request judged by the old definition (see rebase) must not cut
// short the expiry the new one set, or the key table could drop state the new one still holds.
void rate_consume(const config::limit& l, limit_state& s, time_ns now,
                  const std::atomic<time_ns>& keep_logs_until) {
  const auto period = to_ns(l.rate->period);
  if (l.algo == config::algorithm::sliding_window) {
    sliding_window(l.rate->count, period).consume(s, now);
    s.expires_at_ = std::max(s.expires_at_, now + period);  // the newest admission leaves then
  } else {
    token_bucket(l.rate->count, period, l.burst).consume(s, now);
    s.expires_at_ = std::max(s.expires_at_, s.value_);  // the bucket is full again then
    // A log left by a rebase from a sliding window: free once no request can still read it.
    if (s.log_cap_ != 0 && now >= keep_logs_until.load(std::memory_order_relaxed)) {
      s.log_.reset();
      s.log_head_ = s.log_size_ = s.log_cap_ = 0;
    }
  }
}

verdict in_flight_verdict(const config::limit& l, std::uint32_t others_in_flight) {
  verdict v;
  v.quota = l.max_in_flight;
  if (others_in_flight >= l.max_in_flight) {
    v.allowed = false;
    v.retry_after_ns = in_flight_retry_ns;
    v.reset_ns = in_flight_retry_ns;
    return v;
  }
  v.remaining = l.max_in_flight - others_in_flight - 1;
  return v;
}

// Both rate and in-flight apply to one limit: the stricter answer stands.
verdict combine(const verdict& a, const verdict& b) {
  if (a.allowed != b.allowed) return a.allowed ? b : a;
  if (!a.allowed) return a.retry_after_ns >= b.retry_after_ns ? a : b;
  return a.remaining <= b.remaining ? a : b;
}

// One limit's answer: its rate verdict (already computed, or none) joined with its in-flight cap
// given how many others are in flight; records the refusal kind and the verdict in `d`.
void judge(const config::limit& l, verdict v, std::uint32_t others_in_flight, decision& d,
           boost::container::small_vector<refusal, 4>& kinds) {
  refusal kind = refusal::none;
  if (l.max_in_flight > 0) {
    const verdict f = in_flight_verdict(l, others_in_flight);
    if (!f.allowed && (!l.rate || v.allowed || f.retry_after_ns >= v.retry_after_ns))
      kind = refusal::in_flight;
    v = l.rate ? combine(v, f) : f;
  }
  if (!v.allowed && kind == refusal::none) kind = refusal::rate;
  if (l.shadow) {
    // On trial: noted, never a refusal.
    if (kind != refusal::none && !d.shadow_refused) {
      d.shadow_refused = true;
      d.shadow_index = static_cast<int>(d.verdicts.size());
    }
    kind = refusal::none;
  }
  if (kind != refusal::none) d.refused = kind;
  kinds.push_back(kind);
  d.verdicts.push_back(v);
}

// Locks the shards of a request's keys in index order, so two requests never deadlock.
class shard_locks {
 public:
  shard_locks(key_table& table, std::span<const limit_key> keys) : table_(table) {
    for (const auto& k : keys) shards_.push_back(table.shard_of(k));
    std::sort(shards_.begin(), shards_.end());
    shards_.erase(std::unique(shards_.begin(), shards_.end()), shards_.end());
    for (unsigned s : shards_) table_.shard_mutex(s).lock();
  }
  ~shard_locks() {
    for (auto it = shards_.rbegin(); it != shards_.rend(); ++it) table_.shard_mutex(*it).unlock();
  }
  shard_locks(const shard_locks&) = delete;
  shard_locks& operator=(const shard_locks&) = delete;

 private:
  key_table& table_;
  boost::container::small_vector<unsigned, 4> shards_;
};

// The verdict to show: when refused, the refusing limit with the longest wait (the client must
// wait for all of them); when admitted, the limit with the least left.
void pick_limiting(decision& d, std::span<const refusal> kinds) {
  for (std::size_t i = 0; i < d.verdicts.size(); ++i) {
    const verdict& v = d.verdicts[i];
    bool better;
    if (kinds[i] == refusal::none && !v.allowed) continue;  // a shadow limit's would-be refusal
    if (d.allowed())
      better = d.limit_index < 0 || v.remaining < d.limiting.remaining;
    else
      better = !v.allowed && (d.limit_index < 0 || v.retry_after_ns > d.limiting.retry_after_ns);
    if (better) {
      d.limit_index = static_cast<int>(i);
      d.limiting = v;
    }
  }
  // The refusal reported is the chosen limit's own, so a 429's message matches its limit name.
  if (!d.allowed() && d.limit_index >= 0) d.refused = kinds[static_cast<std::size_t>(d.limit_index)];
}

}  // namespace

limiter::limiter(std::uint64_t max_keys) : table_(max_keys, shards_for(max_keys)) {}

decision limiter::acquire(const config::route& route, std::span<const limit_key> keys,
                          time_ns now) {
  decision d;
  const auto& limits = route.limits;
  if (limits.empty()) return d;
  shard_locks locks(table_, keys);

  // Phase 1: find or create every entry, pinned (in_flight_ + 1) so that creating one cannot
  // evict another of this same request, and ask every limit.
  boost::container::small_vector<limit_state*, 4> states;
  boost::container::small_vector<refusal, 4> kinds;
  boost::container::small_vector<bool, 4> rate_refused;
  for (std::size_t i = 0; i < limits.size(); ++i) {
    limit_state* s = table_.find_or_insert(keys[i], now);
    if (s == nullptr) {
      for (limit_state* p : states) --p->in_flight_;
      d.refused = refusal::table_full;
      d.limit_index = static_cast<int>(i);
      d.limiting.retry_after_ns = in_flight_retry_ns;
      return d;
    }
    ++s->in_flight_;
    states.push_back(s);
    const auto& l = limits[i];
    const verdict rv = l.rate ? rate_verdict(l, *s, now) : verdict{};
    rate_refused.push_back(!rv.allowed);
    judge(l, rv, s->in_flight_ - 1, d, kinds);
  }

  // Phase 2: all agreed, so consume; in-flight slots stay taken only where capped.
  for (std::size_t i = 0; i < limits.size(); ++i) {
    const auto& l = limits[i];
    limit_state& s = *states[i];
    if (rate_refused[i] && !l.shadow) s.refused_ = 1;
    else if (d.allowed()) s.refused_ = 0;
    // A shadow limit that would refuse consumes nothing either: its state stays what enforcing
    // it would have left.
    if (d.allowed() && l.rate && !rate_refused[i]) rate_consume(l, s, now, keep_logs_until_);
    if (!d.allowed() || l.max_in_flight == 0) --s.in_flight_;
  }
  pick_limiting(d, kinds);
  return d;
}

std::uint64_t limiter::rebase(const config::config& old_cfg, const config::config& new_cfg,
                              time_ns now) {
  // Every limit of a config by id: the routes' limits and the websocket blocks' message limits
  // (built here like proxy_snapshot builds them; `messages` holds them while they are pointed at).
  using by_id = boost::unordered_flat_map<std::uint64_t, const config::limit*>;
  auto collect = [](const config::config& c, std::vector<config::limit>& messages, by_id& out) {
    messages.reserve(c.routes.size() + 1);
    auto add = [&](const config::route& r) {
      for (const auto& l : r.limits) out.emplace(l.id, &l);
      if (!r.websocket) return;
      if (auto m = config::message_limit(*r.websocket))
        out.emplace(m->id, &messages.emplace_back(std::move(*m)));
    };
    for (const auto& r : c.routes) add(r);
    add(c.default_route);
  };
  std::vector<config::limit> old_messages, new_messages;
  by_id old_limits, new_limits;
  collect(old_cfg, old_messages, old_limits);
  collect(new_cfg, new_messages, new_limits);

  // What happens to each old id: reinterpreted (`to` set), or forgotten (`to` null: the limit
  // is gone, and a limit that comes back later under its identity must not find old state
  // kept in another definition's terms). Unchanged limits are not in the map.
  struct change {
    const config::limit* from;
    const config::limit* to;
  };
  boost::unordered_flat_map<std::uint64_t, change> changes;
  bool window_to_bucket = false;
  for (const auto& [id, from] : old_limits) {
    const auto it = new_limits.find(id);
    const config::limit* to = it == new_limits.end() ? nullptr : it->second;
    // A limit that had no rate kept no rate state: one that gains a rate has nothing to convert.
    if (to != nullptr && (!rate_changed(*from, *to) || !from->rate)) continue;
    changes.emplace(id, change{from, to});
    if (to != nullptr && from->rate && to->rate &&
        from->algo == config::algorithm::sliding_window &&
        to->algo == config::algorithm::token_bucket)
      window_to_bucket = true;
  }
  if (changes.empty()) return 0;  // a reload that changes no limit's meaning visits nothing
  if (window_to_bucket)
    keep_logs_until_.store(now + leftover_log_keep_ns, std::memory_order_relaxed);

  std::uint64_t changed = 0;
  table_.for_each([&](const limit_key& key, limit_state& s) {
    const auto it = changes.find(key.limit_id);
    if (it == changes.end()) return;
    if (it->second.to != nullptr) rebase_state(*it->second.from, *it->second.to, s, now);
    else forget_state(s);
    ++changed;
  });
  return changed;
}

void limiter::release(const config::route& route, std::span<const limit_key> keys) {
  const auto& limits = route.limits;
  for (std::size_t i = 0; i < limits.size(); ++i) {
    if (limits[i].max_in_flight == 0) continue;
    std::lock_guard lock(table_.shard_mutex(table_.shard_of(keys[i])));
    // In-flight entries are never evicted, so the entry is still there.
    if (limit_state* s = table_.find(keys[i]); s && s->in_flight_ > 0) --s->in_flight_;
  }
}

decision limiter::peek(const config::route& route, std::span<const limit_key> keys, time_ns now) {
  decision d;
  const auto& limits = route.limits;
  if (limits.empty()) return d;
  shard_locks locks(table_, keys);
  const limit_state empty;
  boost::container::small_vector<refusal, 4> kinds;
  for (std::size_t i = 0; i < limits.size(); ++i) {
    const limit_state* s = table_.find(keys[i]);
    if (s == nullptr) s = &empty;
    const auto& l = limits[i];
    judge(l, l.rate ? rate_peek(l, *s, now) : verdict{}, s->in_flight_, d, kinds);
  }
  pick_limiting(d, kinds);
  return d;
}

}  // namespace sluice::limiter
