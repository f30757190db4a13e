// Background jobs for POST /api/jobs: accepted at once, run one at a time in arrival order.
#pragma once

#include "stub_net.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice::stub {

/// Jobs and the one worker coroutine that runs them; submit and look-up are safe from any thread.
class job_queue {
 public:
  /// Prepares the worker's strand and wake-up timer on `io`; call start() to run it.
  explicit job_queue(net::io_context& io);
  /// Spawns the worker coroutine; call once.
  void start();
  /// Queues a job that "runs" for `duration` and then echoes `input`; returns its id.
  std::string submit(std::chrono::milliseconds duration, nlohmann::json input);
  /// The job as JSON (job_id, status, created_at, ...); nullopt when unknown or already forgotten.
  std::optional<nlohmann::json> find(std::string_view id) const;
  /// Jobs waiting for the worker.
  std::size_t queued() const;
  /// Jobs finished since start.
  std::uint64_t done_total() const;

 private:
  /// Where a job is in its life.
  enum class job_status { queued, running, done };

  /// One job as stored.
  struct job {
    /// Where the job is.
    job_status status = job_status::queued;
    /// How long it "runs".
    std::chrono::milliseconds duration{0};
    /// The client's input, echoed in the result.
    nlohmann::json input;
    /// ISO-8601 time of submission.
    std::string created_at;
    /// ISO-8601 time the worker took it; empty while queued.
    std::string started_at;
    /// ISO-8601 time it finished; empty until done.
    std::string finished_at;
    /// {"echo": input, "ran_ms": N} once done.
    nlohmann::json result;
  };

  /// Takes jobs off the queue in order and waits out each one on a timer.
  net::awaitable<void> work();
  /// The next queued job still stored, marked running; nullopt when the queue is empty.
  std::optional<std::pair<std::uint64_t, std::chrono::milliseconds>> take_next();

  /// The worker runs here, whatever thread serves it.
  net::strand<net::io_context::executor_type> strand_;
  /// Parked on by the idle worker; only touched on strand_, so submit() posts its cancel there.
  net::steady_timer wake_;
  /// Guards everything below; handlers on any thread read and add jobs.
  mutable std::mutex lock_;
  /// Stored jobs by id, at most max_stored_jobs.
  std::unordered_map<std::uint64_t, job> jobs_;
  /// Ids in creation order, to forget the oldest once max_stored_jobs is reached.
  std::deque<std::uint64_t> stored_order_;
  /// Ids waiting for the worker, oldest first.
  std::deque<std::uint64_t> pending_;
  /// Id of the next job; ids are never reused.
  std::uint64_t next_id_ = 1;
  /// Jobs finished since start.
  std::uint64_t done_total_ = 0;
};

}  // namespace sluice::stub
