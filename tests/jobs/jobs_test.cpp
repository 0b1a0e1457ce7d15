// SPDX-License-Identifier: AGPL-3.0-or-later
#include "jobs/jobs.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "jobs/daily.h"
#include "store/database.h"
#include "support/test_database.h"

namespace focal::jobs {
namespace {

namespace fs = std::filesystem;

// Every test runs on both engines (a second handle on the same database stands for a second process).
class JobsTest : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override {
    FOCAL_REQUIRE_DATABASE(database_);
    db_ = open_db();
    ASSERT_NE(db_, nullptr);
  }

  std::unique_ptr<store::Database> open_db() {
    auto db = database_.open();
    if (db == nullptr) return nullptr;
    auto migrated = migrate(*db);
    EXPECT_TRUE(migrated.ok()) << (migrated.ok() ? "" : migrated.error().message);
    return db;
  }

  std::unique_ptr<JobQueue> make_queue(std::string worker = "worker-a") {
    JobQueueOptions options;
    options.worker_id = std::move(worker);
    options.clock = [this] { return now_.load(); };
    options.poll_interval = std::chrono::milliseconds(5);
    auto queue = JobQueue::open(*db_, options);
    EXPECT_TRUE(queue.ok()) << (queue.ok() ? "" : queue.error().message);
    return std::move(*queue);
  }

  QueueCounts counts(JobQueue& queue, std::string_view name) {
    auto status = queue.status(name);
    EXPECT_TRUE(status.ok());
    return status.ok() ? status->counts : QueueCounts{};
  }

  void sql(const std::string& statement) {
    Status done = db_->write([&](store::Connection& conn) { return conn.exec(statement); });
    ASSERT_TRUE(done.ok()) << done.error().message;
  }

  test_support::TestDatabase database_{GetParam()};
  std::unique_ptr<store::Database> db_;
  std::atomic<std::int64_t> now_{1'700'000'000'000};
};

TEST_P(JobsTest, KnownQueuesFollowTheSpecDefaults) {
  EXPECT_EQ(find_queue("smartSearch")->default_concurrency, 2);
  EXPECT_EQ(find_queue("thumbnailGeneration")->default_concurrency, 3);
  EXPECT_EQ(find_queue("metadataExtraction")->default_concurrency, 5);
  EXPECT_TRUE(find_queue("facialRecognition")->fixed_concurrency);
  EXPECT_TRUE(find_queue("duplicateDetection")->fixed_concurrency);
  EXPECT_EQ(queue_of("SmartSearch"), "smartSearch");
  EXPECT_EQ(queue_of("PersonGenerateThumbnail"), "thumbnailGeneration");
  EXPECT_EQ(queue_of("NoSuchJob"), "");
  auto queue = make_queue();
  queue->set_concurrency("facialRecognition", 4);
  EXPECT_EQ(queue->concurrency("facialRecognition"), 1);
  queue->set_concurrency("smartSearch", 4);
  EXPECT_EQ(queue->concurrency("smartSearch"), 4);
}

TEST_P(JobsTest, RunsEnqueuedJobsAndCountsCompleted) {
  auto queue = make_queue();
  std::mutex mutex;
  std::vector<std::int64_t> seen;
  queue->register_handler("SmartSearch", "smartSearch", [&](const Job& job) -> Expected<JobOutcome> {
    EXPECT_EQ(job.attempt, 1);
    EXPECT_EQ(job.queue, "smartSearch");
    std::lock_guard lock(mutex);
    seen.push_back(job.data.at("id").get<std::int64_t>());
    return JobOutcome::kSuccess;
  });
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(queue->enqueue(JobRequest("SmartSearch", {{"id", i}})).ok());
  EXPECT_EQ(counts(*queue, "smartSearch").waiting, 5);

  auto report = queue->run_until_idle();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->processed, 5);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  const auto c = counts(*queue, "smartSearch");
  EXPECT_EQ(c.completed, 5);
  EXPECT_EQ(c.waiting + c.active + c.failed + c.delayed, 0);
}

TEST_P(JobsTest, UnknownJobNameIsRejected) {
  auto queue = make_queue();
  auto id = queue->enqueue(JobRequest("NoSuchJob"));
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.error().kind, ErrorKind::kBadRequest);
}

TEST_P(JobsTest, PriorityThenFifo) {
  auto queue = make_queue();
  queue->set_concurrency("thumbnailGeneration", 1);
  std::vector<std::string> order;
  auto record = [&](const Job& job) -> Expected<JobOutcome> {
    order.push_back(job.name + ":" + std::to_string(job.data.at("n").get<int>()));
    return JobOutcome::kSuccess;
  };
  queue->register_handler("PersonGenerateThumbnail", "thumbnailGeneration", record);
  queue->register_handler("AssetGenerateThumbnails", "thumbnailGeneration", record);
  JobRequest person("PersonGenerateThumbnail", {{"n", 1}});
  person.priority = 1;
  ASSERT_TRUE(queue->enqueue(person).ok());
  ASSERT_TRUE(queue->enqueue(JobRequest("AssetGenerateThumbnails", {{"n", 2}})).ok());
  ASSERT_TRUE(queue->enqueue(JobRequest("AssetGenerateThumbnails", {{"n", 3}})).ok());
  ASSERT_TRUE(queue->run_until_idle().ok());
  EXPECT_EQ(order, (std::vector<std::string>{"AssetGenerateThumbnails:2", "AssetGenerateThumbnails:3",
                                             "PersonGenerateThumbnail:1"}));
}

TEST_P(JobsTest, ErrorsMarkFailedUntilCleared) {
  auto queue = make_queue();
  queue->register_handler("SmartSearch", "smartSearch", [](const Job& job) -> Expected<JobOutcome> {
    if (job.data.at("id") == 1) return internal_error("model exploded");
    if (job.data.at("id") == 2) throw std::runtime_error("handler bug");
    return JobOutcome::kSuccess;
  });
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(queue->enqueue(JobRequest("SmartSearch", {{"id", i}})).ok());
  auto report = queue->run_until_idle();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->failed, 2);
  auto c = counts(*queue, "smartSearch");
  EXPECT_EQ(c.failed, 2);
  EXPECT_EQ(c.completed, 1);
  auto failed = queue->list("smartSearch", JobState::kFailed);
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->size(), 2u);
  EXPECT_EQ((*failed)[0].error, "model exploded");
  EXPECT_NE((*failed)[1].error.find("handler bug"), std::string::npos);
  ASSERT_TRUE(queue->clear_failed("smartSearch").ok());
  EXPECT_EQ(counts(*queue, "smartSearch").failed, 0);
}

TEST_P(JobsTest, FailedOutcomeIsAFailedJob) {
  auto queue = make_queue();
  queue->register_handler("PersonGenerateThumbnail", "thumbnailGeneration",
                          [](const Job&) -> Expected<JobOutcome> { return JobOutcome::kFailed; });
  ASSERT_TRUE(queue->enqueue(JobRequest("PersonGenerateThumbnail", {{"id", 1}})).ok());
  auto report = queue->run_until_idle();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->failed, 1);
  auto c = counts(*queue, "thumbnailGeneration");
  EXPECT_EQ(c.failed, 1);
  EXPECT_EQ(c.completed, 0);
}

TEST_P(JobsTest, FullDiskKeepsJobsQueuedAndStopsTheDrain) {
  auto queue = make_queue();
  std::atomic<bool> full{true};
  std::atomic<int> calls{0};
  queue->register_handler("SmartSearch", "smartSearch", [&](const Job&) -> Expected<JobOutcome> {
    ++calls;
    if (full) return Error{ErrorKind::kStorageFull, "data directory full: 0 MB free"};
    return JobOutcome::kSuccess;
  });
  for (int i = 1; i <= 20; ++i) ASSERT_TRUE(queue->enqueue(JobRequest("SmartSearch", {{"id", i}})).ok());
  auto report = queue->run_until_idle();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().kind, ErrorKind::kStorageFull);
  EXPECT_LE(calls.load(), 2) << "every worker pauses after the first full-disk error";
  auto c = counts(*queue, "smartSearch");
  EXPECT_EQ(c.failed, 0);
  EXPECT_EQ(c.waiting, 20);
  // Claiming resumes after the pause; with space back everything completes exactly once.
  full = false;
  now_ += 60'000;
  report = queue->run_until_idle();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(counts(*queue, "smartSearch").completed, 20);
  EXPECT_EQ(counts(*queue, "smartSearch").failed, 0);
}

TEST_P(JobsTest, UnavailableRetriesWithExponentialBackoffAndIsNeverDropped) {
  auto queue = make_queue();
  std::vector<int> attempts;
  queue->register_handler("SmartSearch", "smartSearch", [&](const Job& job) -> Expected<JobOutcome> {
    attempts.push_back(job.attempt);
    if (job.attempt < 4) return Error{ErrorKind::kUnavailable, "no ML node answered"};
    return JobOutcome::kSuccess;
  });
  ASSERT_TRUE(queue->enqueue(JobRequest("SmartSearch", {{"id", 7}})).ok());

  const std::int64_t expected_delays[] = {5'000, 10'000, 20'000};
  for (std::int64_t delay : expected_delays) {
    auto report = queue->run_until_idle();
    ASSERT_TRUE(report.ok()) << report.error().message;
    EXPECT_EQ(report->delayed, 1);
    auto delayed = queue->list("smartSearch", JobState::kDelayed);
    ASSERT_TRUE(delayed.ok());
    ASSERT_EQ(delayed->size(), 1u);
    EXPECT_EQ((*delayed)[0].run_at_ms, now_.load() + delay);
    EXPECT_EQ((*delayed)[0].error, "no ML node answered");
    EXPECT_EQ(counts(*queue, "smartSearch").delayed, 1);
    // Not yet due: nothing runs.
    now_ += delay - 1;
    ASSERT_TRUE(queue->run_until_idle().ok());
    EXPECT_EQ(counts(*queue, "smartSearch").delayed, 1);
    now_ += 1;
  }
  auto report = queue->run_until_idle();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->delayed, 0);
  EXPECT_EQ(attempts, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(counts(*queue, "smartSearch").completed, 1);
}

TEST_P(JobsTest, BackoffIsCapped) {
  JobQueueOptions options;
  options.worker_id = "w";
  options.clock = [this] { return now_.load(); };
  options.backoff_initial = std::chrono::milliseconds(1000);
  options.backoff_max = std::chrono::milliseconds(3000);
  auto queue = JobQueue::open(*db_, options);
  ASSERT_TRUE(queue.ok());
  (*queue)->register_handler("SmartSearch", "smartSearch", [](const Job&) -> Expected<JobOutcome> {
    return Error{ErrorKind::kUnavailable, "down"};
  });
  ASSERT_TRUE((*queue)->enqueue(JobRequest("SmartSearch", {{"id", 1}})).ok());
  std::vector<std::int64_t> delays;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE((*queue)->run_until_idle().ok());
    auto delayed = (*queue)->list("smartSearch", JobState::kDelayed);
    ASSERT_TRUE(delayed.ok());
    ASSERT_EQ(delayed->size(), 1u);
    delays.push_back((*delayed)[0].run_at_ms - now_.load());
    now_ = (*delayed)[0].run_at_ms;
  }
  EXPECT_EQ(delays, (std::vector<std::int64_t>{1000, 2000, 3000, 3000}));
}

TEST_P(JobsTest, ExpiredLeaseReturnsJobToWaiting) {
  auto queue = make_queue();
  std::atomic<int> runs{0};
  queue->register_handler("SmartSearch", "smartSearch", [&](const Job& job) -> Expected<JobOutcome> {
    EXPECT_EQ(job.attempt, 2);  // the dead worker's claim counts
    ++runs;
    return JobOutcome::kSuccess;
  });
  ASSERT_TRUE(queue->enqueue(JobRequest("SmartSearch", {{"id", 1}})).ok());
  ASSERT_TRUE(queue->enqueue(JobRequest("SmartSearch", {{"id", 2}})).ok());
  // A worker that died mid-job (lease in the past) and one still alive (lease in the future).
  sql(
      fmt::format("UPDATE job SET state = 'active', attempts = 1, lease_owner = 'dead', lease_until = {} "
                  "WHERE data = '{{\"id\":1}}'",
                  now_.load() - 1));
  sql(
      fmt::format("UPDATE job SET state = 'active', attempts = 1, lease_owner = 'alive', lease_until = {} "
                  "WHERE data = '{{\"id\":2}}'",
                  now_.load() + 60'000));
  EXPECT_EQ(counts(*queue, "smartSearch").active, 2);
  auto recovered = queue->recover_expired_leases();
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(*recovered, 1);
  auto c = counts(*queue, "smartSearch");
  EXPECT_EQ(c.waiting, 1);
  EXPECT_EQ(c.active, 1);
  // Drain only what this process can run: the live worker's job stays active, so use a stop condition.
  DrainOptions drain;
  drain.should_stop = [&] { return runs.load() == 1; };
  ASSERT_TRUE(queue->run_until_idle(drain).ok());
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(counts(*queue, "smartSearch").active, 1);
}

TEST_P(JobsTest, OpenRecoversExpiredLeases) {
  {
    auto queue = make_queue();
    ASSERT_TRUE(queue->enqueue(JobRequest("SmartSearch", {{"id", 1}})).ok());
  }
  sql(fmt::format("UPDATE job SET state = 'active', lease_owner = 'killed', lease_until = {}",
                  now_.load() - 1));
  auto queue = make_queue("restarted");
  EXPECT_EQ(counts(*queue, "smartSearch").waiting, 1);
  EXPECT_EQ(counts(*queue, "smartSearch").active, 0);
}

TEST_P(JobsTest, TwoDatabaseHandlesNeverRunAJobTwice) {
  auto second_db = open_db();
  auto a = make_queue("worker-a");
  JobQueueOptions options;
  options.worker_id = "worker-b";
  options.clock = [this] { return now_.load(); };
  options.poll_interval = std::chrono::milliseconds(5);
  auto b = JobQueue::open(*second_db, options);
  ASSERT_TRUE(b.ok());

  constexpr int kJobs = 150;
  std::mutex mutex;
  std::map<std::int64_t, int> runs;
  std::map<std::string, int> by_worker;
  auto handler_for = [&](std::string worker) {
    return [&, worker](const Job& job) -> Expected<JobOutcome> {
      std::lock_guard lock(mutex);
      ++runs[job.data.at("id").get<std::int64_t>()];
      ++by_worker[worker];
      return JobOutcome::kSuccess;
    };
  };
  a->register_handler("PersonCleanup", "backgroundTask", handler_for("a"));
  (*b)->register_handler("PersonCleanup", "backgroundTask", handler_for("b"));
  std::vector<JobRequest> requests;
  for (int i = 0; i < kJobs; ++i) requests.emplace_back("PersonCleanup", nlohmann::json{{"id", i}});
  ASSERT_TRUE(a->enqueue_all(requests).ok());

  std::thread other([&] { ASSERT_TRUE((*b)->run_until_idle().ok()); });
  ASSERT_TRUE(a->run_until_idle().ok());
  other.join();

  ASSERT_EQ(runs.size(), static_cast<std::size_t>(kJobs));
  for (const auto& [id, n] : runs) EXPECT_EQ(n, 1) << "job " << id;
  EXPECT_EQ(counts(*a, "backgroundTask").completed, kJobs);
}

TEST_P(JobsTest, PauseResumeEmpty) {
  auto queue = make_queue();
  std::atomic<int> runs{0};
  queue->register_handler("SmartSearch", "smartSearch", [&](const Job&) -> Expected<JobOutcome> {
    ++runs;
    return JobOutcome::kSuccess;
  });
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(queue->enqueue(JobRequest("SmartSearch", {{"id", i}})).ok());
  ASSERT_TRUE(queue->pause("smartSearch").ok());
  auto status = queue->status("smartSearch");
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->is_paused);
  EXPECT_EQ(status->counts.paused, 3);
  EXPECT_EQ(status->counts.waiting, 0);
  ASSERT_TRUE(queue->run_until_idle().ok());
  EXPECT_EQ(runs.load(), 0);

  ASSERT_TRUE(queue->resume("smartSearch").ok());
  EXPECT_EQ(counts(*queue, "smartSearch").waiting, 3);
  ASSERT_TRUE(queue->empty("smartSearch").ok());
  EXPECT_EQ(counts(*queue, "smartSearch"), QueueCounts{});
  ASSERT_TRUE(queue->run_until_idle().ok());
  EXPECT_EQ(runs.load(), 0);
  EXPECT_EQ(queue->pause("noSuchQueue").error().kind, ErrorKind::kNotFound);
}

TEST_P(JobsTest, StartEnqueuesQueueAllUnlessActive) {
  auto queue = make_queue();
  ASSERT_TRUE(queue->start("smartSearch", true).ok());
  auto waiting = queue->list("smartSearch", JobState::kWaiting);
  ASSERT_TRUE(waiting.ok());
  ASSERT_EQ(waiting->size(), 1u);
  EXPECT_EQ((*waiting)[0].name, "SmartSearchQueueAll");
  EXPECT_EQ((*waiting)[0].data, (nlohmann::json{{"force", true}}));

  sql(fmt::format("UPDATE job SET state = 'active', lease_owner = 'x', lease_until = {}",
                  now_.load() + 60'000));
  Status again = queue->start("smartSearch", false);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::kBadRequest);
  EXPECT_EQ(again.error().message, "Job is already running");
  EXPECT_EQ(queue->start("backgroundTask", false).error().kind, ErrorKind::kBadRequest);
  auto active = queue->has_active("smartSearch");
  ASSERT_TRUE(active.ok());
  EXPECT_TRUE(*active);
  EXPECT_FALSE(*queue->has_active("faceDetection"));
}

TEST_P(JobsTest, DedupeKeepsOnePendingJob) {
  auto queue = make_queue();
  auto first = queue->enqueue(JobRequest("FacialRecognitionQueueAll", {{"force", false}}));
  auto second = queue->enqueue(JobRequest("FacialRecognitionQueueAll", {{"force", false}}));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_GT(*first, 0);
  EXPECT_EQ(*second, 0);
  EXPECT_EQ(counts(*queue, "facialRecognition").waiting, 1);

  JobRequest keyed("SmartSearch", {{"id", 1}});
  keyed.dedupe_key = "smart:1";
  EXPECT_GT(*queue->enqueue(keyed), 0);
  EXPECT_EQ(*queue->enqueue(keyed), 0);

  queue->register_handler("FacialRecognitionQueueAll", "facialRecognition",
                          [](const Job&) -> Expected<JobOutcome> { return JobOutcome::kSkipped; });
  DrainOptions only;
  only.queues = {"facialRecognition"};
  ASSERT_TRUE(queue->run_until_idle(only).ok());
  // Once it ran, a new one may be queued.
  EXPECT_GT(*queue->enqueue(JobRequest("FacialRecognitionQueueAll")), 0);
}

TEST_P(JobsTest, FollowUpsOnlyAfterSuccessOrSkipped) {
  auto queue = make_queue();
  std::mutex mutex;
  std::vector<std::int64_t> faces;
  queue->register_handler("AssetGenerateThumbnails", "thumbnailGeneration",
                          [](const Job& job) -> Expected<JobOutcome> {
                            const auto id = job.data.at("id").get<int>();
                            if (id == 1) return JobOutcome::kSuccess;
                            if (id == 2) return JobOutcome::kSkipped;
                            if (id == 3) return JobOutcome::kFailed;
                            return internal_error("broken");
                          });
  queue->register_handler("AssetDetectFaces", "faceDetection", [&](const Job& job) -> Expected<JobOutcome> {
    std::lock_guard lock(mutex);
    faces.push_back(job.data.at("id").get<std::int64_t>());
    EXPECT_EQ(job.data.at("source"), "upload");
    return JobOutcome::kSuccess;
  });
  queue->on_done("AssetGenerateThumbnails", [](const Job& job, JobOutcome) {
    return std::vector<JobRequest>{JobRequest("AssetDetectFaces", job.data)};
  });
  for (int i = 1; i <= 4; ++i) {
    ASSERT_TRUE(
        queue->enqueue(JobRequest("AssetGenerateThumbnails", {{"id", i}, {"source", "upload"}})).ok());
  }
  ASSERT_TRUE(queue->run_until_idle().ok());
  std::sort(faces.begin(), faces.end());
  EXPECT_EQ(faces, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(counts(*queue, "thumbnailGeneration").completed, 2);  // success and skipped
  EXPECT_EQ(counts(*queue, "thumbnailGeneration").failed, 2);     // a returned failure and an error
  EXPECT_EQ(counts(*queue, "faceDetection").completed, 2);
}

TEST_P(JobsTest, HasActiveSeesRunningJobsAndProgressIsReported) {
  auto queue = make_queue();
  std::atomic<bool> saw_active{false};
  queue->register_handler("AssetDetectFaces", "faceDetection", [&](const Job&) -> Expected<JobOutcome> {
    auto active = queue->has_active("faceDetection");
    if (active.ok() && *active) saw_active = true;
    return JobOutcome::kSuccess;
  });
  ASSERT_TRUE(queue->enqueue(JobRequest("AssetDetectFaces", {{"id", 1}})).ok());
  int calls = 0;
  std::int64_t last_processed = -1;
  DrainOptions drain;
  drain.on_progress = [&](const DrainProgress& progress) {
    ++calls;
    last_processed = progress.processed;
    EXPECT_EQ(progress.queues.size(), known_queues().size());
  };
  ASSERT_TRUE(queue->run_until_idle(drain).ok());
  EXPECT_TRUE(saw_active.load());
  EXPECT_GE(calls, 1);
  EXPECT_EQ(last_processed, 1);
}

TEST_P(JobsTest, BackgroundWorkersProcessJobsAndLiveConcurrency) {
  auto queue = make_queue();
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::atomic<int> done{0};
  queue->register_handler("SmartSearch", "smartSearch", [&](const Job&) -> Expected<JobOutcome> {
    const int now = ++running;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --running;
    ++done;
    return JobOutcome::kSuccess;
  });
  queue->set_concurrency("smartSearch", 1);
  queue->start_workers();
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(queue->enqueue(JobRequest("SmartSearch", {{"id", i}})).ok());
  queue->set_concurrency("smartSearch", 3);
  for (int i = 0; i < 1000 && done.load() < 12; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  queue->stop_workers();
  EXPECT_EQ(done.load(), 12);
  EXPECT_LE(peak.load(), 3);
  EXPECT_EQ(counts(*queue, "smartSearch").completed, 12);
}

// --- daily schedule (nightly tasks) ---

class DailyScheduleTest : public JobsTest {
 protected:
  void SetUp() override {
    JobsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    setenv("TZ", "UTC", 1);  // local time = UTC for the clock below
    tzset();
  }
  // 2026-03-10 at hh:mm UTC, plus `days`.
  void at(int hh, int mm, int days = 0) {
    wall_ = std::chrono::system_clock::time_point(std::chrono::seconds(1773100800)) + std::chrono::hours(hh) +
            std::chrono::minutes(mm) + std::chrono::hours(24 * days);
  }
  DailySchedule::Clock clock() {
    return [this] { return wall_.load(); };
  }
  std::atomic<std::chrono::system_clock::time_point> wall_{};
};

TEST_P(DailyScheduleTest, ClaimsOncePerDayWithinAnHourOfTheStartTime) {
  auto queue = make_queue();
  DailySchedule schedule(*queue, *db_, "nightlyTasks", clock());
  at(1, 59);
  EXPECT_FALSE(*schedule.claim_if_due("02:00"));
  at(2, 0);
  EXPECT_TRUE(*schedule.claim_if_due("02:00"));
  EXPECT_FALSE(*schedule.claim_if_due("02:00"));  // once a day
  at(2, 30);
  EXPECT_FALSE(*schedule.claim_if_due("02:00"));
  at(3, 1, 1);  // next day, past the window: a process that was down misses that day, as a cron would
  EXPECT_FALSE(*schedule.claim_if_due("02:00"));
  at(2, 59, 2);  // the day after, within the window (started late)
  EXPECT_TRUE(*schedule.claim_if_due("02:00"));
  EXPECT_FALSE(*schedule.claim_if_due("nonsense"));
  // A window across midnight belongs to the day it started on.
  at(23, 45, 3);
  EXPECT_TRUE(*schedule.claim_if_due("23:30"));
  at(0, 10, 4);
  EXPECT_FALSE(*schedule.claim_if_due("23:30"));  // still the run of day 3
  at(0, 10, 5);
  EXPECT_TRUE(*schedule.claim_if_due("23:30"));  // day 4's run, begun after midnight
}

TEST_P(DailyScheduleTest, TwoProcessesSharingTheDatabaseRunADayOnce) {
  auto queue_a = make_queue("worker-a");
  auto queue_b = make_queue("worker-b");
  DailySchedule a(*queue_a, *db_, "nightlyTasks", clock());
  DailySchedule b(*queue_b, *db_, "nightlyTasks", clock());
  at(0, 0);
  EXPECT_TRUE(*a.claim_if_due("00:00"));
  EXPECT_FALSE(*b.claim_if_due("00:00"));
  DailySchedule other(*queue_b, *db_, "otherSchedule", clock());
  EXPECT_TRUE(*other.claim_if_due("00:00"));  // schedules are independent
}

TEST_P(DailyScheduleTest, TheThreadQueuesTheDaysJobsOnce) {
  auto queue = make_queue();
  DailySchedule schedule(*queue, *db_, "nightlyTasks", clock());
  at(0, 5);
  std::atomic<int> asked{0};
  schedule.start(
      std::chrono::milliseconds(5), [] { return std::string("00:00"); },
      [&] {
        ++asked;
        return std::vector<JobRequest>{
            JobRequest(std::string(job::kPersonCleanup)),
            JobRequest(std::string(job::kFacialRecognitionQueueAll), {{"force", false}, {"nightly", true}})};
      });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (asked.load() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // more polls: nothing more
  schedule.stop();
  EXPECT_EQ(asked.load(), 1);
  auto background = queue->status(queue::kBackgroundTask);
  auto recognition = queue->status(queue::kFacialRecognition);
  ASSERT_TRUE(background.ok() && recognition.ok());
  EXPECT_EQ(background->counts.waiting, 1);
  EXPECT_EQ(recognition->counts.waiting, 1);
}

INSTANTIATE_TEST_SUITE_P(Engines, JobsTest, test_support::engines(), test_support::engine_name);
INSTANTIATE_TEST_SUITE_P(Engines, DailyScheduleTest, test_support::engines(), test_support::engine_name);

TEST(JobPayload, ReadsEachFieldAndTreatsWrongTypesAsAbsent) {
  const JobPayload full = parse_payload({{"id", 42},
                                         {"source", "upload"},
                                         {"force", false},
                                         {"notify", true},
                                         {"nightly", true},
                                         {"deferred", true}});
  EXPECT_EQ(full.id, 42);
  EXPECT_EQ(full.source, "upload");
  EXPECT_EQ(full.force, false);  // present and false: "missing" mode, not absent
  EXPECT_TRUE(full.notify && full.nightly && full.deferred);

  const JobPayload hostile =
      parse_payload({{"id", "42"}, {"source", 7}, {"force", "yes"}, {"notify", 1}, {"deferred", nullptr}});
  EXPECT_FALSE(hostile.id.has_value());
  EXPECT_EQ(hostile.source, "");
  EXPECT_FALSE(hostile.force.has_value());
  EXPECT_FALSE(hostile.notify || hostile.deferred);
  EXPECT_FALSE(parse_payload(nlohmann::json::array({1, 2})).id.has_value());
  EXPECT_FALSE(parse_payload({{"id", 1.5}}).id.has_value());

  Job job;
  job.name = "SmartSearch";
  job.data = {{"id", "seven"}};
  auto missing = job.target_id();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::kUnprocessable);
  EXPECT_NE(missing.error().message.find("SmartSearch: the job's data needs an integer id"),
            std::string::npos);
  job.data = {{"id", 7}};
  EXPECT_EQ(*job.target_id(), 7);
}

}  // namespace
}  // namespace focal::jobs
