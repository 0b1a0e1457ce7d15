// SPDX-License-Identifier: AGPL-3.0-or-later
// The library server's durable job queue (Immich's queues and jobs), stored in SQLite (component "jobs").
//
// Immich runs its jobs on BullMQ/Redis with no retries and drops a job whose handler throws. focal keeps
// every job in the database instead:
//  - a claim is one IMMEDIATE transaction that marks the oldest waiting job of a queue (by priority, then id)
//    active with a lease (owner + expiry); a heartbeat renews the leases of running jobs, and jobs whose
//    lease expired (a killed process) go back to waiting, so kill -9 never loses work;
//  - a handler error of kind kUnavailable (no ML node answered) re-queues the job as `delayed` with
//  exponential
//    backoff (5 s doubling to a 10 min cap), forever: ML outages never drop work;
//  - any other error marks the job `failed`; failed jobs stay until clear-failed;
//  - completed jobs are deleted but counted per queue, so `completed` is meaningful.
// Several processes (server and CLI) may run workers on the same database; handlers are idempotent.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace focal::store {
class Connection;
class Database;
}  // namespace focal::store

namespace focal::jobs {

// Immich's QueueName values (the ones focal runs).
namespace queue {
inline constexpr std::string_view kMetadataExtraction = "metadataExtraction";
inline constexpr std::string_view kThumbnailGeneration = "thumbnailGeneration";
inline constexpr std::string_view kSmartSearch = "smartSearch";
inline constexpr std::string_view kFaceDetection = "faceDetection";
inline constexpr std::string_view kFacialRecognition = "facialRecognition";
inline constexpr std::string_view kDuplicateDetection = "duplicateDetection";
inline constexpr std::string_view kOcr = "ocr";
inline constexpr std::string_view kBackgroundTask = "backgroundTask";
}  // namespace queue

// Immich's JobName values (the ones focal runs).
namespace job {
inline constexpr std::string_view kAssetExtractMetadataQueueAll = "AssetExtractMetadataQueueAll";
inline constexpr std::string_view kAssetExtractMetadata = "AssetExtractMetadata";
inline constexpr std::string_view kAssetGenerateThumbnailsQueueAll = "AssetGenerateThumbnailsQueueAll";
inline constexpr std::string_view kAssetGenerateThumbnails = "AssetGenerateThumbnails";
inline constexpr std::string_view kSmartSearchQueueAll = "SmartSearchQueueAll";
inline constexpr std::string_view kSmartSearch = "SmartSearch";
inline constexpr std::string_view kAssetDetectFacesQueueAll = "AssetDetectFacesQueueAll";
inline constexpr std::string_view kAssetDetectFaces = "AssetDetectFaces";
inline constexpr std::string_view kFacialRecognitionQueueAll = "FacialRecognitionQueueAll";
inline constexpr std::string_view kFacialRecognition = "FacialRecognition";
inline constexpr std::string_view kAssetDetectDuplicatesQueueAll = "AssetDetectDuplicatesQueueAll";
inline constexpr std::string_view kAssetDetectDuplicates = "AssetDetectDuplicates";
inline constexpr std::string_view kOcrQueueAll = "OcrQueueAll";
inline constexpr std::string_view kOcr = "Ocr";
inline constexpr std::string_view kPersonCleanup = "PersonCleanup";
inline constexpr std::string_view kPersonGenerateThumbnail = "PersonGenerateThumbnail";
}  // namespace job

struct QueueInfo {
  std::string_view name;
  int default_concurrency;         // Immich's default
  bool fixed_concurrency;          // facialRecognition and duplicateDetection always run one at a time
  std::string_view queue_all_job;  // what `start` enqueues (empty: the queue has no start command)
};
// Every queue focal knows, in display order.
std::span<const QueueInfo> known_queues();
const QueueInfo* find_queue(std::string_view name);
// The queue a known job name runs on (e.g. "SmartSearch" -> "smartSearch"); empty when unknown.
std::string_view queue_of(std::string_view job_name);

// Migrations of component "jobs" (see jobs_schema.h for the tables).
Status migrate(store::Database& db);

// What focal's jobs carry in their data (Immich's job payloads), read the same way by every handler. A value
// of the wrong type reads as absent: payloads are not trusted to be well-formed (they come from the API and
// outlive upgrades in the database).
struct JobPayload {
  std::optional<std::int64_t> id;  // the asset, face or person the job works on
  std::string source;              // "upload", "copy" or empty (Immich's JobSource)
  std::optional<bool> force;       // queue-all jobs: every item (true) or only those missing the result
  bool notify = false;             // a per-asset job that goes on to the next pipeline step
  bool nightly = false;            // queued by the nightly tasks
  bool deferred = false;           // facial recognition: put off once already, waiting for its neighbours
};
JobPayload parse_payload(const nlohmann::json& data);

// A claimed job as a handler sees it.
struct Job {
  std::int64_t id = 0;
  std::string name;
  std::string queue;
  nlohmann::json data;  // the payload: {id, source?, notify?} per asset, {force?} for queue-all jobs, …
  int attempt = 1;      // 1 on the first run; grows with each retry and each lease recovery

  JobPayload payload() const { return parse_payload(data); }
  // The payload's id, or an unprocessable error naming the job: a malformed payload fails its job alike in
  // every component, with the reason kept on the failed job.
  Expected<std::int64_t> target_id() const;
};

// What a handler reports (Immich's JobStatus). `failed` here is a handled, expected failure (e.g. no
// preview): the job is counted as completed, and follow-ups are not queued. Errors are different: see
// JobQueue.
enum class JobOutcome { kSuccess, kSkipped, kFailed };
std::string_view to_string(JobOutcome outcome);

using Handler = std::function<Expected<JobOutcome>(const Job& job)>;

struct JobRequest {
  JobRequest() = default;
  explicit JobRequest(std::string job_name, nlohmann::json payload = nlohmann::json::object())
      : name(std::move(job_name)), data(std::move(payload)) {}

  std::string name;
  nlohmann::json data = nlohmann::json::object();
  int priority = 0;  // lower runs first; Immich's "no priority" = 0, PersonGenerateThumbnail uses 1
  // Jobs with the same key are pending (waiting or delayed) at most once; enqueueing another is a no-op.
  std::optional<std::string> dedupe_key;
  std::chrono::milliseconds delay{0};  // > 0: enqueued as delayed
};

// Follow-ups of a finished job (Immich's job chain, e.g. metadata → thumbnails → CLIP/faces): called after
// `success` or `skipped` and their requests are enqueued in the same transaction that completes the job.
using DoneHook = std::function<std::vector<JobRequest>(const Job& job, JobOutcome outcome)>;

struct QueueCounts {
  std::int64_t active = 0;
  std::int64_t completed = 0;  // total since the counter was created (rows are deleted on completion)
  std::int64_t failed = 0;     // kept failed jobs
  std::int64_t delayed = 0;    // retry backoff or scheduled
  std::int64_t waiting = 0;    // 0 while the queue is paused
  std::int64_t paused = 0;     // waiting jobs of a paused queue
  bool operator==(const QueueCounts&) const = default;
};

struct QueueStatus {
  std::string name;
  bool is_paused = false;
  int concurrency = 1;
  QueueCounts counts;
};

enum class JobState { kWaiting, kDelayed, kActive, kFailed };
std::string_view to_string(JobState state);
std::optional<JobState> parse_job_state(std::string_view text);

// A stored job (GET /queues/:name/jobs).
struct JobInfo {
  std::int64_t id = 0;
  std::string name;
  std::string queue;
  JobState state = JobState::kWaiting;
  nlohmann::json data;
  int attempts = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t run_at_ms = 0;  // when a delayed job becomes waiting
  std::string error;           // last error message (failed / retried jobs)
};

using Clock = std::function<std::int64_t()>;  // milliseconds since the Unix epoch

struct JobQueueOptions {
  std::string worker_id;                                // lease owner; default: "<hostname>:<pid>:<random>"
  std::chrono::milliseconds lease{60'000};              // a job whose lease is older than this is recovered
  std::chrono::milliseconds heartbeat{15'000};          // lease renewal period of running jobs
  std::chrono::milliseconds recovery_interval{30'000};  // expired-lease sweep period
  std::chrono::milliseconds poll_interval{500};         // idle workers look for new jobs (other processes)
  std::chrono::milliseconds backoff_initial{5'000};
  std::chrono::milliseconds backoff_max{600'000};
  Clock clock;  // default: the system clock (tests inject one)
};

// Progress of a drain (focal jobs run / import --wait progress bar).
struct DrainProgress {
  std::vector<QueueStatus> queues;  // every known queue
  std::int64_t processed = 0;       // jobs this drain finished (any outcome, incl. errors)
  std::int64_t remaining = 0;       // waiting + active + (delayed when waiting for them)
};

struct DrainOptions {
  std::vector<std::string> queues;  // empty: all queues
  // Delayed (retrying) jobs keep a drain alive only when true; otherwise the drain returns when only delayed
  // jobs are left (e.g. ML is down) and reports them.
  bool wait_for_delayed = false;
  std::chrono::milliseconds progress_interval{250};
  std::function<void(const DrainProgress&)> on_progress;
  std::function<bool()> should_stop;  // polled; true stops the drain early (Ctrl-C)
};

struct DrainReport {
  std::int64_t processed = 0;
  std::int64_t failed = 0;   // jobs that ended in the failed state during this drain
  std::int64_t delayed = 0;  // jobs left delayed (retrying) when the drain returned
};

class JobQueue {
 public:
  // `db` must be migrated (jobs::migrate) and outlive the queue. Returns expired leases to waiting.
  static Expected<std::unique_ptr<JobQueue>> open(store::Database& db, JobQueueOptions options = {});
  ~JobQueue();  // stops the workers
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // Registers the single handler for `job_name` on `queue`. Register before start_workers()/run_until_idle().
  // Workers of this process claim only job names that have a handler here.
  void register_handler(std::string_view job_name, std::string_view queue, Handler handler);
  // Follow-ups for `job_name` (several hooks may be registered; their requests are concatenated).
  void on_done(std::string_view job_name, DoneHook hook);

  // Enqueues; returns the new id, or 0 when a pending job already has the same dedupe key. The job's queue is
  // its registered queue, else queue_of(name); an unknown name is a kBadRequest error.
  Expected<std::int64_t> enqueue(const JobRequest& request);
  Status enqueue_all(std::span<const JobRequest> requests);  // one transaction
  // The same, inside a write transaction the caller already holds (db.write), so that data and jobs commit
  // together.
  Expected<std::int64_t> enqueue(store::Connection& connection, const JobRequest& request);

  // Commands, as in Immich. start: kBadRequest "Job is already running" when the queue has an active job,
  // kBadRequest for a queue without a queue-all job; otherwise enqueues the queue's queue-all job {force}.
  Status start(std::string_view queue, std::optional<bool> force);
  Status pause(std::string_view queue);
  Status resume(std::string_view queue);
  Status empty(std::string_view queue);         // removes waiting and delayed jobs; active ones finish
  Status clear_failed(std::string_view queue);  // removes failed jobs

  Expected<QueueStatus> status(std::string_view queue);
  Expected<std::vector<QueueStatus>> status_all();
  // Does `queue` have an active job (any process)? The FacialRecognitionQueueAll barrier waits until the
  // detection queues have none.
  Expected<bool> has_active(std::string_view queue);
  // Up to `limit` jobs of `queue` in `state` (oldest first).
  Expected<std::vector<JobInfo>> list(std::string_view queue, JobState state, int limit = 1000);

  // Live-changeable worker count of a queue (fixed queues stay at 1). Defaults: Immich's.
  void set_concurrency(std::string_view queue, int concurrency);
  int concurrency(std::string_view queue) const;

  // Background workers: one pool per queue that has handlers, plus the heartbeat/recovery thread.
  void start_workers();
  void stop_workers();  // waits for running handlers to return

  // Runs this process's handlers in the foreground until nothing is waiting or active in the selected queues
  // (`focal jobs run`, `focal import --wait`, tests). Uses the same per-queue concurrency. Does not need
  // start_workers(); must not be called while they run.
  Expected<DrainReport> run_until_idle(const DrainOptions& options = {});

  // Returns jobs whose lease expired to waiting; returns how many. Also runs on open and periodically.
  Expected<std::int64_t> recover_expired_leases();

  const std::string& worker_id() const;

 private:
  struct Impl;
  explicit JobQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace focal::jobs
