// SPDX-License-Identifier: AGPL-3.0-or-later
#include "jobs/jobs.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include "core/logging.h"
#include "jobs/job_table.h"
#include "jobs/jobs_schema.h"
#include "store/database.h"

namespace focal::jobs {
namespace {

std::string default_worker_id() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  std::random_device random;
  return fmt::format("{}:{}:{:08x}", host.data(), getpid(), random());
}

// One pool of worker threads per queue. Threads beyond the live concurrency idle.
struct Pool {
  std::string queue;
  std::atomic<int> concurrency{1};
  std::vector<std::thread> threads;
};

}  // namespace

Status migrate(store::Database& db) { return db.migrate("jobs", detail::kMigrations); }

// The threads, handlers and hooks of one queue process; the statements they run are detail::JobTable's.
struct JobQueue::Impl {
  JobQueueOptions options;
  detail::JobTable table;

  mutable std::mutex mutex;  // guards handlers, hooks, pools, concurrency overrides
  struct Registered {
    std::string queue;
    Handler handler;
  };
  std::map<std::string, Registered, std::less<>> handlers;
  std::map<std::string, std::vector<DoneHook>, std::less<>> hooks;
  std::map<std::string, int, std::less<>> concurrency;
  std::map<std::string, std::unique_ptr<Pool>, std::less<>> pools;

  std::atomic<bool> running{false};
  std::mutex wake_mutex;
  std::condition_variable wake;  // new work in this process, or stop
  std::thread maintenance;

  std::atomic<std::int64_t> processed{0};
  std::atomic<std::int64_t> failed{0};

  // A full data directory pauses claiming (every job would fail the same way): until this time, doubling
  // while it stays full. The message is what the drain reports.
  std::mutex storage_mutex;
  std::int64_t storage_full_until = 0;
  std::int64_t storage_pause_ms = 0;
  std::string storage_full_message;

  Impl(store::Database& database, JobQueueOptions opts)
      : options(std::move(opts)),
        table(database, options.worker_id, options.lease, options.clock,
              [this](std::string_view name) { return resolve_queue(name); }) {}

  std::int64_t now() const { return options.clock(); }

  std::string resolve_queue(std::string_view name) const {
    {
      std::lock_guard lock(mutex);
      if (auto it = handlers.find(name); it != handlers.end()) return it->second.queue;
    }
    return std::string(queue_of(name));
  }

  std::vector<std::string> handled_names(std::string_view queue_name) const {
    std::lock_guard lock(mutex);
    std::vector<std::string> names;
    for (const auto& [name, registered] : handlers) {
      if (registered.queue == queue_name) names.push_back(name);
    }
    return names;
  }

  void notify() { wake.notify_all(); }

  static constexpr std::int64_t kFirstStoragePauseMs = 5'000;
  static constexpr std::int64_t kMaxStoragePauseMs = 300'000;

  // Records that the data directory is full; logs once per pause, not once per job.
  void storage_full(const std::string& message) {
    const std::lock_guard lock(storage_mutex);
    const std::int64_t at = now();
    if (at < storage_full_until) return;
    storage_pause_ms =
        storage_pause_ms == 0 ? kFirstStoragePauseMs : std::min(storage_pause_ms * 2, kMaxStoragePauseMs);
    storage_full_until = at + storage_pause_ms;
    storage_full_message = message;
    spdlog::error("{}; jobs stay queued and processing pauses for {} s", message, storage_pause_ms / 1000);
  }

  void storage_ok() {
    const std::lock_guard lock(storage_mutex);
    if (storage_pause_ms == 0) return;
    storage_pause_ms = 0;
    storage_full_until = 0;
    storage_full_message.clear();
    spdlog::info("Data directory writable again: job processing resumed");
  }

  // The message while claiming is paused for a full disk, nullopt otherwise.
  std::optional<std::string> storage_paused() {
    const std::lock_guard lock(storage_mutex);
    if (now() >= storage_full_until) return std::nullopt;
    return storage_full_message;
  }

  bool may_claim() {
    const std::lock_guard lock(storage_mutex);
    return now() >= storage_full_until;
  }

  std::vector<JobRequest> follow_ups(const Job& done, JobOutcome outcome) {
    std::vector<DoneHook> to_call;
    {
      std::lock_guard lock(mutex);
      if (auto it = hooks.find(done.name); it != hooks.end()) to_call = it->second;
    }
    std::vector<JobRequest> requests;
    for (const auto& hook : to_call) {
      try {
        auto more = hook(done, outcome);
        requests.insert(requests.end(), std::make_move_iterator(more.begin()),
                        std::make_move_iterator(more.end()));
      } catch (const std::exception& e) {
        spdlog::error("Follow-up hook of {} #{} threw: {}", done.name, done.id, e.what());
      }
    }
    return requests;
  }

  Status complete(const Job& done, JobOutcome outcome) {
    std::vector<JobRequest> next;
    if (outcome != JobOutcome::kFailed) next = follow_ups(done, outcome);
    return table.complete(done, next);
  }

  std::chrono::milliseconds backoff(int attempt) const {
    std::int64_t delay = options.backoff_initial.count();
    for (int i = 1; i < attempt && delay < options.backoff_max.count(); ++i) delay *= 2;
    return std::chrono::milliseconds(std::min(delay, options.backoff_max.count()));
  }

  // Runs one claimed job to its end state. Never throws.
  void run(const Job& claimed, const Handler& handler) {
    Expected<JobOutcome> result = internal_error("no result");
    try {
      result = handler(claimed);
    } catch (const std::exception& e) {
      result = internal_error(fmt::format("handler threw: {}", e.what()));
    } catch (...) {
      result = internal_error("handler threw a non-standard exception");
    }
    Status stored;
    if (result.ok() && *result == JobOutcome::kFailed) {
      // The handler gave up on this item (its reason is logged): a failed job, counted and kept until
      // cleared.
      failed.fetch_add(1);
      stored = table.fail(claimed, "the job failed (see the log for the reason)");
    } else if (result.ok()) {
      stored = complete(claimed, *result);
    } else if (result.error().kind == ErrorKind::kStorageFull) {
      storage_full(result.error().message);
      stored = table.give_back(claimed);  // may fail on the same full disk: then the lease expiry returns it
    } else if (result.error().kind == ErrorKind::kUnavailable) {
      spdlog::warn("Job {} #{} will be retried in {} s (attempt {}): {}", claimed.name, claimed.id,
                   backoff(claimed.attempt).count() / 1000, claimed.attempt, result.error().message);
      stored = table.retry_later(claimed, result.error().message, backoff(claimed.attempt));
    } else {
      const ErrorKind kind = result.error().kind;
      const bool about_the_item =
          kind == ErrorKind::kNotFound || kind == ErrorKind::kBadRequest || kind == ErrorKind::kUnprocessable;
      if (about_the_item) {
        spdlog::warn("Job {} #{} failed: {}", claimed.name, claimed.id, result.error().message);
      } else {
        spdlog::error("Unable to run job handler ({}): {}", claimed.name, result.error().message);
      }
      failed.fetch_add(1);
      stored = table.fail(claimed, result.error().message);
    }
    if (stored && result.ok()) storage_ok();
    if (!stored && stored.error().kind == ErrorKind::kStorageFull) {
      storage_full(stored.error().message);
    } else if (!stored) {
      // The lease expires and the job is recovered: nothing is lost.
      spdlog::error("Could not record the end of job {} #{}: {}", claimed.name, claimed.id,
                    stored.error().message);
    }
    processed.fetch_add(1);
    notify();  // follow-ups may be ready
  }

  void worker_loop(Pool* pool, int index) {
    const auto names = handled_names(pool->queue);
    while (running.load()) {
      if (index >= pool->concurrency.load()) {
        std::unique_lock lock(wake_mutex);
        wake.wait_for(lock, options.poll_interval);
        continue;
      }
      if (!may_claim()) {
        std::unique_lock lock(wake_mutex);
        wake.wait_for(lock, options.poll_interval);
        continue;
      }
      auto claimed = table.claim(pool->queue, names);
      if (!claimed && claimed.error().kind == ErrorKind::kStorageFull) {
        storage_full(claimed.error().message);
      } else if (!claimed) {
        spdlog::warn("Claiming from {} failed: {}", pool->queue, claimed.error().message);
      } else if (claimed->has_value()) {
        Handler handler;
        {
          std::lock_guard lock(mutex);
          handler = handlers.at((*claimed)->name).handler;
        }
        run(**claimed, handler);
        continue;
      }
      std::unique_lock lock(wake_mutex);
      wake.wait_for(lock, options.poll_interval);
    }
  }

  void maintenance_loop() {
    auto next_heartbeat = std::chrono::steady_clock::now() + options.heartbeat;
    auto next_recovery = std::chrono::steady_clock::now() + options.recovery_interval;
    while (running.load()) {
      {
        std::unique_lock lock(wake_mutex);
        wake.wait_until(lock, std::min(next_heartbeat, next_recovery), [&] { return !running.load(); });
      }
      if (!running.load()) break;
      const auto t = std::chrono::steady_clock::now();
      if (t >= next_heartbeat) {
        if (Status beat = table.heartbeat(); !beat)
          spdlog::warn("Lease heartbeat failed: {}", beat.error().message);
        next_heartbeat = t + options.heartbeat;
      }
      if (t >= next_recovery) {
        auto recovered = table.recover();
        if (!recovered) {
          spdlog::warn("Lease recovery failed: {}", recovered.error().message);
        } else if (*recovered > 0) {
          spdlog::warn("Returned {} job(s) with an expired lease to waiting", *recovered);
          notify();
        }
        next_recovery = t + options.recovery_interval;
      }
    }
  }

  int concurrency_of(std::string_view queue_name) const {
    const QueueInfo* info = find_queue(queue_name);
    if (info && info->fixed_concurrency) return 1;
    if (auto it = concurrency.find(queue_name); it != concurrency.end()) return it->second;
    return info ? info->default_concurrency : 1;
  }

  // Starts a pool for every queue with handlers (restricted to `only` when not empty). Requires !running.
  void start(const std::vector<std::string>& only) {
    std::lock_guard lock(mutex);
    running.store(true);
    std::set<std::string> queues;
    for (const auto& [name, registered] : handlers) {
      if (only.empty() || std::find(only.begin(), only.end(), registered.queue) != only.end()) {
        queues.insert(registered.queue);
      }
    }
    for (const auto& queue_name : queues) {
      auto pool = std::make_unique<Pool>();
      pool->queue = queue_name;
      pool->concurrency.store(concurrency_of(queue_name));
      Pool* raw = pool.get();
      for (int i = 0; i < pool->concurrency.load(); ++i) {
        pool->threads.emplace_back([this, raw, i] { worker_loop(raw, i); });
      }
      pools.emplace(queue_name, std::move(pool));
    }
    maintenance = std::thread([this] { maintenance_loop(); });
  }

  void stop() {
    {
      std::lock_guard lock(wake_mutex);
      running.store(false);
    }
    wake.notify_all();
    std::map<std::string, std::unique_ptr<Pool>, std::less<>> stopped;
    {
      std::lock_guard lock(mutex);
      stopped.swap(pools);
    }
    for (auto& [name, pool] : stopped) {
      for (auto& thread : pool->threads) thread.join();
    }
    if (maintenance.joinable()) maintenance.join();
  }

  Expected<QueueStatus> status(std::string_view queue_name) {
    auto counts = table.counts(queue_name);
    if (!counts) return counts.error();
    QueueStatus out;
    out.name = std::string(queue_name);
    std::tie(out.counts, out.is_paused) = *counts;
    std::lock_guard lock(mutex);
    out.concurrency = concurrency_of(queue_name);
    return out;
  }

  // Jobs that keep a drain going: active anywhere, or runnable here.
  Expected<std::int64_t> remaining(const std::vector<std::string>& queues, bool with_delayed) {
    std::vector<std::string> names;
    {
      std::lock_guard lock(mutex);
      for (const auto& [name, registered] : handlers) {
        if (std::find(queues.begin(), queues.end(), registered.queue) != queues.end()) names.push_back(name);
      }
    }
    return table.remaining(queues, names, with_delayed);
  }
};

JobQueue::JobQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

JobQueue::~JobQueue() { impl_->stop(); }

Expected<std::unique_ptr<JobQueue>> JobQueue::open(store::Database& db, JobQueueOptions options) {
  if (options.worker_id.empty()) options.worker_id = default_worker_id();
  if (!options.clock) options.clock = [] { return store::now_ms(); };
  if (options.lease.count() <= 0 || options.heartbeat.count() <= 0 || options.heartbeat >= options.lease) {
    return bad_request("jobs: the heartbeat must be positive and shorter than the lease");
  }
  if (options.backoff_initial.count() <= 0 || options.backoff_max < options.backoff_initial) {
    return bad_request("jobs: backoff_initial must be positive and not above backoff_max");
  }
  auto impl = std::make_unique<Impl>(db, std::move(options));
  auto recovered = impl->table.recover();
  if (!recovered && recovered.error().kind == ErrorKind::kStorageFull) {
    // Reading the queues must keep working on a full disk (`focal jobs`); recovery runs again later.
    spdlog::warn("Expired leases not recovered: {}", recovered.error().message);
  } else if (!recovered) {
    return recovered.error();
  } else if (*recovered > 0) {
    spdlog::warn("Returned {} job(s) with an expired lease to waiting", *recovered);
  }
  return std::unique_ptr<JobQueue>(new JobQueue(std::move(impl)));
}

void JobQueue::register_handler(std::string_view job_name, std::string_view queue_name, Handler handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->handlers[std::string(job_name)] = Impl::Registered{std::string(queue_name), std::move(handler)};
}

void JobQueue::on_done(std::string_view job_name, DoneHook hook) {
  std::lock_guard lock(impl_->mutex);
  impl_->hooks[std::string(job_name)].push_back(std::move(hook));
}

Expected<std::int64_t> JobQueue::enqueue(const JobRequest& request) {
  auto id =
      impl_->table.db().write([&](store::Connection& conn) { return impl_->table.insert(conn, request); });
  if (id && *id > 0) impl_->notify();
  return id;
}

Status JobQueue::enqueue_all(std::span<const JobRequest> requests) {
  Status done = impl_->table.db().write([&](store::Connection& conn) -> Status {
    for (const auto& request : requests) {
      auto id = impl_->table.insert(conn, request);
      if (!id) return id.error();
    }
    return {};
  });
  if (done) impl_->notify();
  return done;
}

Expected<std::int64_t> JobQueue::enqueue(store::Connection& connection, const JobRequest& request) {
  auto id = impl_->table.insert(connection, request);
  impl_->notify();  // the caller commits soon; idle workers also poll
  return id;
}

Expected<bool> JobQueue::has_active(std::string_view queue_name) {
  return impl_->table.has_active(queue_name);
}

Status JobQueue::start(std::string_view queue_name, std::optional<bool> force) {
  const QueueInfo* info = find_queue(queue_name);
  if (!info) return not_found(fmt::format("Unknown queue '{}'", queue_name));
  if (info->queue_all_job.empty())
    return bad_request(fmt::format("Queue '{}' has no start command", queue_name));
  auto active = has_active(queue_name);
  if (!active) return active.error();
  if (*active) return bad_request("Job is already running");
  JobRequest request(std::string(info->queue_all_job));
  if (force) request.data["force"] = *force;
  auto id = enqueue(request);
  if (!id) return id.error();
  return {};
}

namespace {
Status check_queue(std::string_view queue_name) {
  if (!find_queue(queue_name)) return not_found(fmt::format("Unknown queue '{}'", queue_name));
  return {};
}
}  // namespace

Status JobQueue::pause(std::string_view queue_name) {
  if (Status known = check_queue(queue_name); !known) return known;
  return impl_->table.set_paused(queue_name, true);
}

Status JobQueue::resume(std::string_view queue_name) {
  if (Status known = check_queue(queue_name); !known) return known;
  Status done = impl_->table.set_paused(queue_name, false);
  if (done) impl_->notify();
  return done;
}

Status JobQueue::empty(std::string_view queue_name) {
  if (Status known = check_queue(queue_name); !known) return known;
  return impl_->table.empty(queue_name);
}

Status JobQueue::clear_failed(std::string_view queue_name) {
  if (Status known = check_queue(queue_name); !known) return known;
  return impl_->table.clear_failed(queue_name);
}

Expected<QueueStatus> JobQueue::status(std::string_view queue_name) {
  if (Status known = check_queue(queue_name); !known) return known.error();
  return impl_->status(queue_name);
}

Expected<std::vector<QueueStatus>> JobQueue::status_all() {
  std::vector<QueueStatus> all;
  for (const auto& info : known_queues()) {
    auto one = impl_->status(info.name);
    if (!one) return one.error();
    all.push_back(std::move(*one));
  }
  return all;
}

Expected<std::vector<JobInfo>> JobQueue::list(std::string_view queue_name, JobState state, int limit) {
  if (Status known = check_queue(queue_name); !known) return known.error();
  return impl_->table.list(queue_name, state, limit);
}

void JobQueue::set_concurrency(std::string_view queue_name, int value) {
  std::lock_guard lock(impl_->mutex);
  const QueueInfo* info = find_queue(queue_name);
  if (info && info->fixed_concurrency) return;
  value = std::max(1, value);
  impl_->concurrency[std::string(queue_name)] = value;
  if (auto it = impl_->pools.find(queue_name); it != impl_->pools.end() && impl_->running.load()) {
    Pool* pool = it->second.get();
    pool->concurrency.store(value);
    for (int i = static_cast<int>(pool->threads.size()); i < value; ++i) {
      pool->threads.emplace_back([this, pool, i] { impl_->worker_loop(pool, i); });
    }
  }
  impl_->notify();
}

int JobQueue::concurrency(std::string_view queue_name) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->concurrency_of(queue_name);
}

void JobQueue::start_workers() {
  if (impl_->running.load()) return;
  impl_->start({});
}

void JobQueue::stop_workers() { impl_->stop(); }

Expected<DrainReport> JobQueue::run_until_idle(const DrainOptions& options) {
  if (impl_->running.load()) return bad_request("jobs: run_until_idle while background workers run");
  std::vector<std::string> queues = options.queues;
  if (queues.empty()) {
    for (const auto& info : known_queues()) queues.emplace_back(info.name);
  }
  for (const auto& queue_name : queues) {
    if (Status known = check_queue(queue_name); !known) return known.error();
  }
  const std::int64_t processed_before = impl_->processed.load();
  const std::int64_t failed_before = impl_->failed.load();
  impl_->start(queues);
  Expected<DrainReport> report = DrainReport{};
  while (true) {
    auto left = impl_->remaining(queues, options.wait_for_delayed);
    if (!left) {
      report = left.error();
      break;
    }
    if (options.on_progress) {
      DrainProgress progress;
      auto all = status_all();
      if (all) progress.queues = std::move(*all);
      progress.processed = impl_->processed.load() - processed_before;
      progress.remaining = *left;
      options.on_progress(progress);
    }
    if (auto full = impl_->storage_paused()) {
      report = Error{ErrorKind::kStorageFull, *full};  // queued jobs stay queued for a later run
      break;
    }
    if (*left == 0 || (options.should_stop && options.should_stop())) break;
    std::unique_lock lock(impl_->wake_mutex);
    impl_->wake.wait_for(lock, options.progress_interval);
  }
  impl_->stop();
  if (!report) return report;
  report->processed = impl_->processed.load() - processed_before;
  report->failed = impl_->failed.load() - failed_before;
  std::int64_t delayed = 0;
  for (const auto& queue_name : queues) {
    auto one = impl_->status(queue_name);
    if (one) delayed += one->counts.delayed;
  }
  report->delayed = delayed;
  return report;
}

Expected<std::int64_t> JobQueue::recover_expired_leases() { return impl_->table.recover(); }

const std::string& JobQueue::worker_id() const { return impl_->options.worker_id; }

}  // namespace focal::jobs
