#include "job_queue.hpp"

#include "event_log.hpp"
#include "request_target.hpp"
#include "stub_limits.hpp"
#include "timestamp.hpp"

#include <exception>

namespace sluice::stub {

namespace {

std::string now_text() { return iso8601_utc(std::chrono::system_clock::now()); }

}  // namespace

job_queue::job_queue(net::io_context& io) : strand_(net::make_strand(io)), wake_(strand_) {}

void job_queue::start() {
  net::co_spawn(strand_, work(), [](std::exception_ptr failure) {
    if (!failure) {
      return;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      event_log::write(std::string("jobs worker failed: ") + e.what());
    }
  });
}

std::string job_queue::submit(std::chrono::milliseconds duration, nlohmann::json input) {
  std::uint64_t id = 0;
  {
    const std::scoped_lock guard(lock_);
    id = next_id_++;
    job entry;
    entry.duration = duration;
    entry.input = std::move(input);
    entry.created_at = now_text();
    jobs_.emplace(id, std::move(entry));
    stored_order_.push_back(id);
    pending_.push_back(id);
    // A forgotten job that was still queued is skipped by the worker (take_next finds no entry).
    while (stored_order_.size() > max_stored_jobs) {
      jobs_.erase(stored_order_.front());
      stored_order_.pop_front();
    }
  }
  // The worker checks the queue and parks on wake_ within one strand step, so a cancel run on the
  // strand either lands before that check (and the job is seen) or after the park (and wakes it).
  net::post(strand_, [this] { wake_.cancel(); });
  return std::to_string(id);
}

std::optional<nlohmann::json> job_queue::find(std::string_view id_text) const {
  const auto id = parse_unsigned(id_text);
  if (!id) {
    return std::nullopt;
  }
  const std::scoped_lock guard(lock_);
  const auto it = jobs_.find(*id);
  if (it == jobs_.end()) {
    return std::nullopt;
  }
  const job& entry = it->second;
  static constexpr const char* status_names[] = {"queued", "running", "done"};
  nlohmann::json view = {{"job_id", std::to_string(*id)},
                         {"status", status_names[static_cast<int>(entry.status)]},
                         {"created_at", entry.created_at},
                         {"duration_ms", entry.duration.count()}};
  if (!entry.started_at.empty()) {
    view["started_at"] = entry.started_at;
  }
  if (entry.status == job_status::done) {
    view["finished_at"] = entry.finished_at;
    view["result"] = entry.result;
  }
  return view;
}

std::size_t job_queue::queued() const {
  const std::scoped_lock guard(lock_);
  return pending_.size();
}

std::uint64_t job_queue::done_total() const {
  const std::scoped_lock guard(lock_);
  return done_total_;
}

std::optional<std::pair<std::uint64_t, std::chrono::milliseconds>> job_queue::take_next() {
  const std::scoped_lock guard(lock_);
  while (!pending_.empty()) {
    const std::uint64_t id = pending_.front();
    pending_.pop_front();
    const auto it = jobs_.find(id);
    if (it == jobs_.end()) {
      continue;
    }
    it->second.status = job_status::running;
    it->second.started_at = now_text();
    return std::pair{id, it->second.duration};
  }
  return std::nullopt;
}

net::awaitable<void> job_queue::work() {
  net::steady_timer run_timer(strand_);
  for (;;) {
    const auto next = take_next();
    if (!next) {
      wake_.expires_at(net::steady_timer::time_point::max());
      co_await wake_.async_wait(use_tuple);
      continue;
    }
    const auto [id, duration] = *next;
    const auto began = std::chrono::steady_clock::now();
    run_timer.expires_after(duration);
    co_await run_timer.async_wait(use_tuple);
    const auto ran = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - began);

    const std::scoped_lock guard(lock_);
    ++done_total_;
    const auto it = jobs_.find(id);
    if (it == jobs_.end()) {
      continue;
    }
    it->second.status = job_status::done;
    it->second.finished_at = now_text();
    it->second.result = {{"echo", it->second.input}, {"ran_ms", ran.count()}};
  }
}

}  // namespace sluice::stub
