// SPDX-License-Identifier: AGPL-3.0-or-later
#include "jobs/daily.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>

#include "store/database.h"
#include "store/query.h"

namespace focal::jobs {
namespace {

struct LocalTime {
  std::string date;  // YYYY-MM-DD
  int minute_of_day = 0;
};

LocalTime local_time(std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char date[48];  // room for any int the format could print
  std::snprintf(date, sizeof date, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return {date, tm.tm_hour * 60 + tm.tm_min};
}

// Minutes after midnight of "HH:MM"; -1 for anything else.
int parse_time_of_day(std::string_view text) {
  const auto digit = [&](std::size_t i) { return text[i] >= '0' && text[i] <= '9' ? text[i] - '0' : -100; };
  if (text.size() != 5 || text[2] != ':') return -1;
  const int hours = digit(0) * 10 + digit(1);
  const int minutes = digit(3) * 10 + digit(4);
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59) return -1;
  return hours * 60 + minutes;
}

}  // namespace

DailySchedule::DailySchedule(JobQueue& queue, store::Database& db, std::string name, Clock clock)
    : queue_(queue), db_(db), name_(std::move(name)), clock_(std::move(clock)) {}

DailySchedule::~DailySchedule() { stop(); }

Expected<bool> DailySchedule::claim_if_due(std::string_view start_time) {
  const int start = parse_time_of_day(start_time);
  if (start < 0) return false;
  const LocalTime now = local_time(clock_());
  // The window may cross midnight: 23:30 + 60 min is due until 00:30, for the day it started on.
  const int window = static_cast<int>(kWindow.count());
  std::string day = now.date;
  bool due = now.minute_of_day >= start && now.minute_of_day < start + window;
  if (!due && start + window > 24 * 60 && now.minute_of_day < start + window - 24 * 60) {
    due = true;
    day = local_time(clock_() - std::chrono::hours(24)).date;
  }
  if (!due) return false;
  return db_.write([&](store::Connection& c) -> Expected<bool> {
    Status claimed =
        store::exec(c,
                    "INSERT INTO job_schedule (name, last_run) VALUES (?1, ?2) ON CONFLICT (name) DO "
                    "UPDATE SET last_run = excluded.last_run WHERE job_schedule.last_run < "
                    "excluded.last_run",
                    name_, day);
    if (!claimed) return claimed.error();
    return c.changes() == 1;
  });
}

void DailySchedule::tick() {
  auto claimed = claim_if_due(start_time_());
  if (!claimed) {
    spdlog::warn("{}: could not check the schedule: {}", name_, claimed.error().message);
    return;
  }
  if (!*claimed) return;
  const auto requests = jobs_for_today_();
  spdlog::info("{}: queueing {} jobs", name_, requests.size());
  if (Status queued = queue_.enqueue_all(requests); !queued)
    spdlog::error("{}: queueing the jobs failed: {}", name_, queued.error().message);
}

void DailySchedule::start(std::chrono::milliseconds poll, std::function<std::string()> start_time,
                          std::function<std::vector<JobRequest>()> jobs_for_today) {
  stop();
  start_time_ = std::move(start_time);
  jobs_for_today_ = std::move(jobs_for_today);
  stopping_ = false;
  thread_ = std::thread([this, poll] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      tick();
      lock.lock();
      wake_.wait_for(lock, poll, [this] { return stopping_; });
    }
  });
}

void DailySchedule::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace focal::jobs
