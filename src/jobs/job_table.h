// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal: every statement the job queue runs on its tables (job, job_queue), for one worker. A worker
// holds a job through its lease (lease_owner = the worker id, lease_until); every end state is written only
// while this worker still holds the lease, so a job recovered by another worker after a stall is never
// finished twice. The threads, handlers and hooks that drive these statements live in jobs.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/jobs.h"
#include "store/database.h"

namespace focal::jobs::detail {

class JobTable {
 public:
  // `queue_of` names the queue a job name runs on (empty: unknown); `clock` gives ms since the epoch.
  JobTable(store::Database& db, std::string worker_id, std::chrono::milliseconds lease,
           std::function<std::int64_t()> clock, std::function<std::string(std::string_view)> queue_of);

  store::Database& db() const { return db_; }
  const std::string& worker_id() const { return worker_id_; }
  std::int64_t now() const { return clock_(); }

  // --- adding and claiming ---
  // Inserts `request`; 0 when an equal pending job (same dedupe key) makes it a no-op.
  Expected<std::int64_t> insert(store::Connection& connection, const JobRequest& request) const;
  // Claims the next job of `queue_name` for one of `names`; nullopt when none is ready or the queue is paused.
  Expected<std::optional<Job>> claim(const std::string& queue_name,
                                     const std::vector<std::string>& names) const;

  // --- a claimed job's end ---
  // Deletes it, counts it as completed and inserts `follow_ups`, in one transaction.
  Status complete(const Job& done, std::span<const JobRequest> follow_ups) const;
  Status fail(const Job& done, const std::string& message) const;
  // Back to the queue as delayed for `delay`, or dropped when an equal pending job covers it.
  Status retry_later(const Job& done, const std::string& message, std::chrono::milliseconds delay) const;
  // Back to waiting untouched (its attempt not counted) after a full disk.
  Status give_back(const Job& job) const;

  // --- leases ---
  Status heartbeat() const;
  // Jobs whose lease expired, or whose owner on this host is gone, back to waiting; returns how many.
  Expected<std::int64_t> recover() const;

  // --- queues ---
  Expected<bool> has_active(std::string_view queue_name) const;
  Status set_paused(std::string_view queue_name, bool paused) const;
  Status empty(std::string_view queue_name) const;
  Status clear_failed(std::string_view queue_name) const;
  // The counts of one queue, and whether it is paused.
  Expected<std::pair<QueueCounts, bool>> counts(std::string_view queue_name) const;
  Expected<std::vector<JobInfo>> list(std::string_view queue_name, JobState state, int limit) const;
  // Jobs that keep a drain of `queues` going: active anywhere, or runnable here (one of `names`; delayed ones
  // only when due or `with_delayed`).
  Expected<std::int64_t> remaining(const std::vector<std::string>& queues,
                                   const std::vector<std::string>& names, bool with_delayed) const;

 private:
  Status drop_if_still_mine(store::Connection& connection, std::int64_t id) const;
  std::vector<std::string> dead_local_owners(store::Connection& connection) const;

  store::Database& db_;
  const std::string worker_id_;
  const std::chrono::milliseconds lease_;
  const std::function<std::int64_t()> clock_;
  const std::function<std::string(std::string_view)> queue_of_;
};

}  // namespace focal::jobs::detail
