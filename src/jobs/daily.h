// SPDX-License-Identifier: AGPL-3.0-or-later
// Work queued once a day at a local time of day: Immich's nightly tasks (nightlyTasks.startTime). Several
// processes may share the database; the first to claim a day's run queues the jobs, the others skip that day.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.h"
#include "jobs/jobs.h"

namespace focal::jobs {

class DailySchedule {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  // How long after the start time a run may still begin: a process that was down at the start time (or
  // started just after it) still runs that day's tasks, as long as it comes up within this window.
  static constexpr std::chrono::minutes kWindow{60};

  // `name` identifies the schedule in the job_schedule table. The clock is injectable for tests.
  DailySchedule(JobQueue& queue, store::Database& db, std::string name,
                Clock clock = std::chrono::system_clock::now);
  ~DailySchedule();  // stops the thread
  DailySchedule(const DailySchedule&) = delete;
  DailySchedule& operator=(const DailySchedule&) = delete;

  // True when the local time (TZ) is within [start_time, start_time + kWindow) and today's run was not
  // claimed yet; the claim is recorded in the same step, so exactly one caller per day gets true.
  // `start_time` is "HH:MM" (validated by the settings); anything else never matches.
  Expected<bool> claim_if_due(std::string_view start_time);

  // Every `poll`: when a run is due, enqueues what `jobs_for_today()` returns (read at that moment, so
  // setting changes apply). Errors are logged and retried at the next poll.
  void start(std::chrono::milliseconds poll, std::function<std::string()> start_time,
             std::function<std::vector<JobRequest>()> jobs_for_today);
  void stop();

 private:
  void tick();

  JobQueue& queue_;
  store::Database& db_;
  std::string name_;
  Clock clock_;
  std::function<std::string()> start_time_;
  std::function<std::vector<JobRequest>()> jobs_for_today_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace focal::jobs
