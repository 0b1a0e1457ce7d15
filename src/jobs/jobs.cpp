// SPDX-License-Identifier: AGPL-3.0-or-later
#include "jobs/jobs.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
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
#include "jobs/jobs_schema.h"
#include "store/database.h"
#include "store/query.h"

namespace focal::jobs {
namespace {

// A condition on `job`, the row an UPDATE sends back to the queue: no other job with its dedupe key is
// pending (the unique index allows one pending job per key). Both engines accept it, unlike SQLite's
// UPDATE OR IGNORE.
constexpr char kNoPendingTwin[] =
    "(dedupe_key IS NULL OR NOT EXISTS (SELECT 1 FROM job twin WHERE twin.dedupe_key = job.dedupe_key AND "
    "twin.id <> job.id AND twin.state IN ('waiting', 'delayed')))";

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

struct JobQueue::Impl {
  store::Database& db;
  JobQueueOptions options;

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

  Impl(store::Database& database, JobQueueOptions opts) : db(database), options(std::move(opts)) {}

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

  Expected<std::int64_t> insert(store::Connection& conn, const JobRequest& request) {
    const std::string queue_name = resolve_queue(request.name);
    if (queue_name.empty()) return bad_request(fmt::format("Unknown job name '{}'", request.name));
    std::optional<std::string> dedupe = request.dedupe_key;
    // Immich deduplicates FacialRecognitionQueueAll by its own name: at most one pending.
    if (!dedupe && request.name == job::kFacialRecognitionQueueAll) dedupe = std::string(request.name);
    const std::int64_t at = now();
    const bool delayed = request.delay.count() > 0;
    // An equal pending job (same dedupe key) makes this one a no-op: no row comes back, id 0.
    auto id = store::query_one<std::int64_t>(
        conn,
        "INSERT INTO job (queue, name, data, priority, state, dedupe_key, run_at, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        queue_name, request.name, request.data.dump(), request.priority, delayed ? "delayed" : "waiting",
        dedupe, at + request.delay.count(), at, at);
    if (!id) return std::move(id).error();
    return id->value_or(0);
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

  // Gives a job back to its queue untouched (not failed, its attempt not counted) after a full disk.
  Status give_back(const Job& job) {
    return db.write([&](store::Connection& conn) -> Status {
      Status back =
          store::exec(conn,
                      std::string("UPDATE job SET state = 'waiting', attempts = CASE WHEN attempts > 0 "
                                  "THEN attempts - 1 ELSE 0 END, lease_owner = NULL, lease_until = "
                                  "NULL, error = ? WHERE id = ? AND state = 'active' AND "
                                  "lease_owner = ? AND ") +
                          kNoPendingTwin,
                      "data directory full", job.id, options.worker_id);
      if (!back || conn.changes() > 0) return back;
      return drop_if_still_mine(conn, job.id);  // an equal pending job covers it (or the lease was lost)
    });
  }

  // Removes a job this worker still holds, after an equal pending job was found to cover it.
  Status drop_if_still_mine(store::Connection& conn, std::int64_t id) {
    return store::exec(conn, "DELETE FROM job WHERE id = ? AND state = 'active' AND lease_owner = ?", id,
                       options.worker_id);
  }

  // Claims the next job of `queue_name` for one of `names`; nullopt when none is ready.
  Expected<std::optional<Job>> claim(const std::string& queue_name, const std::vector<std::string>& names) {
    if (names.empty()) return std::optional<Job>{};
    const std::int64_t at = now();
    return db.write([&](store::Connection& conn) -> Expected<std::optional<Job>> {
      Status promoted = store::exec(conn,
                                    "UPDATE job SET state = 'waiting', updated_at = ? WHERE queue = ? AND "
                                    "state = 'delayed' AND run_at <= ?",
                                    at, queue_name, at);
      if (!promoted) return promoted.error();

      auto paused =
          store::query_one<bool>(conn, "SELECT is_paused FROM job_queue WHERE queue = ?", queue_name);
      if (!paused) return std::move(paused).error();
      if (paused->value_or(false)) return std::optional<Job>{};

      std::string sql =
          "SELECT id, name, data, attempts FROM job WHERE queue = ? AND state = 'waiting' AND name IN (";
      for (std::size_t i = 0; i < names.size(); ++i) sql += i == 0 ? "?" : ", ?";
      sql += ") ORDER BY priority, id LIMIT 1";
      // Several focal processes may claim from one PostgreSQL database at once: SKIP LOCKED passes over a
      // row another claim has locked and not yet committed, so each job goes to exactly one of them. (SQLite
      // has one writer at a time: nothing to skip.)
      if (conn.engine() == store::Engine::kPostgres) sql += " FOR UPDATE SKIP LOCKED";
      auto pick = conn.prepare(sql);
      if (!pick) return pick.error();
      pick->bind(1, queue_name);
      for (std::size_t i = 0; i < names.size(); ++i) pick->bind(static_cast<int>(i + 2), names[i]);
      auto found = pick->step();
      if (!found) return found.error();
      if (!*found) return std::optional<Job>{};
      Job claimed;
      claimed.id = pick->int64(0);
      claimed.name = pick->text(1);
      claimed.queue = queue_name;
      claimed.data = nlohmann::json::parse(pick->text(2), nullptr, false);
      if (claimed.data.is_discarded()) claimed.data = nlohmann::json::object();
      claimed.attempt = static_cast<int>(pick->int64(3)) + 1;

      Status taken = store::exec(conn,
                                 "UPDATE job SET state = 'active', attempts = attempts + 1, lease_owner = ?, "
                                 "lease_until = ?, updated_at = ? WHERE id = ? AND state = 'waiting'",
                                 options.worker_id, at + options.lease.count(), at, claimed.id);
      if (!taken) return taken.error();
      return std::optional<Job>{std::move(claimed)};
    });
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
    return db.write([&](store::Connection& conn) -> Status {
      Status removed =
          store::exec(conn, "DELETE FROM job WHERE id = ? AND state = 'active' AND lease_owner = ?", done.id,
                      options.worker_id);
      if (!removed) return removed;
      if (conn.changes() == 0) {
        // The lease was lost (recovered by another worker after a stall): that worker owns the job now.
        spdlog::warn("Job {} #{} finished after its lease was recovered; result kept, follow-ups skipped",
                     done.name, done.id);
        return {};
      }
      Status counted = store::exec(conn,
                                   "INSERT INTO job_queue (queue, completed) VALUES (?, 1) "
                                   "ON CONFLICT (queue) DO UPDATE SET completed = job_queue.completed + 1",
                                   done.queue);
      if (!counted) return counted;
      for (const auto& request : next) {
        auto id = insert(conn, request);
        if (!id) return id.error();
      }
      return {};
    });
  }

  Status fail(const Job& done, const std::string& message) {
    return db.write([&](store::Connection& conn) -> Status {
      return store::exec(
          conn,
          "UPDATE job SET state = 'failed', error = ?, lease_owner = NULL, lease_until = NULL, "
          "updated_at = ? WHERE id = ? AND state = 'active' AND lease_owner = ?",
          message, now(), done.id, options.worker_id);
    });
  }

  std::chrono::milliseconds backoff(int attempt) const {
    std::int64_t delay = options.backoff_initial.count();
    for (int i = 1; i < attempt && delay < options.backoff_max.count(); ++i) delay *= 2;
    return std::chrono::milliseconds(std::min(delay, options.backoff_max.count()));
  }

  Status retry_later(const Job& done, const std::string& message) {
    const std::int64_t at = now();
    const auto delay = backoff(done.attempt);
    return db.write([&](store::Connection& conn) -> Status {
      Status delayed =
          store::exec(conn,
                      std::string("UPDATE job SET state = 'delayed', run_at = ?, error = ?, "
                                  "lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = "
                                  "? AND state = 'active' AND lease_owner = ? AND ") +
                          kNoPendingTwin,
                      at + delay.count(), message, at, done.id, options.worker_id);
      if (!delayed || conn.changes() > 0) return delayed;
      // Either the lease was lost, or an equal pending job (same dedupe key) already covers this one.
      return drop_if_still_mine(conn, done.id);
    });
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
      stored = fail(claimed, "the job failed (see the log for the reason)");
    } else if (result.ok()) {
      stored = complete(claimed, *result);
    } else if (result.error().kind == ErrorKind::kStorageFull) {
      storage_full(result.error().message);
      stored = give_back(claimed);  // may fail on the same full disk: then the lease expiry returns it
    } else if (result.error().kind == ErrorKind::kUnavailable) {
      spdlog::warn("Job {} #{} will be retried in {} s (attempt {}): {}", claimed.name, claimed.id,
                   backoff(claimed.attempt).count() / 1000, claimed.attempt, result.error().message);
      stored = retry_later(claimed, result.error().message);
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
      stored = fail(claimed, result.error().message);
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
      auto claimed = claim(pool->queue, names);
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

  Status heartbeat() {
    const std::int64_t at = now();
    return db.write([&](store::Connection& conn) -> Status {
      return store::exec(conn, "UPDATE job SET lease_until = ? WHERE state = 'active' AND lease_owner = ?",
                         at + options.lease.count(), options.worker_id);
    });
  }

  // Lease owners "host:pid:…" of this host whose process is gone (a crash, or a full disk that kept it from
  // handing its jobs back): their jobs need not wait for the lease to expire.
  std::vector<std::string> dead_local_owners(store::Connection& conn) const {
    std::vector<std::string> dead;
    const auto mine = options.worker_id.substr(0, options.worker_id.find(':') + 1);
    // Best effort: on a read error the owners seen so far are returned (the lease expiry still recovers).
    (void)store::for_each_row(
        conn, "SELECT DISTINCT lease_owner FROM job WHERE state = 'active' AND lease_owner IS NOT NULL",
        [&](const store::Statement& row) {
          const std::string owner = row.text(0);
          if (mine.size() < 2 || owner.rfind(mine, 0) != 0 || owner == options.worker_id) return;
          const auto pid_text = owner.substr(mine.size(), owner.find(':', mine.size()) - mine.size());
          int pid = 0;
          const auto [end, ec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
          if (ec != std::errc() || pid <= 0 || pid == getpid()) return;
          if (::kill(pid, 0) != 0 && errno == ESRCH) dead.push_back(owner);
        });
    return dead;
  }

  Expected<std::int64_t> recover() {
    const std::int64_t at = now();
    return db.write([&](store::Connection& conn) -> Expected<std::int64_t> {
      for (const auto& owner : dead_local_owners(conn)) {
        Status expired = store::exec(
            conn, "UPDATE job SET lease_until = 0 WHERE state = 'active' AND lease_owner = ?", owner);
        if (!expired) return expired.error();
      }
      // Of expired jobs sharing a dedupe key only the oldest goes back (the unique index allows one pending).
      Status back = store::exec(
          conn,
          "UPDATE job SET state = 'waiting', lease_owner = NULL, lease_until = NULL, updated_at = ?1 WHERE "
          "state = 'active' AND lease_until < ?1 AND (dedupe_key IS NULL OR NOT EXISTS (SELECT 1 FROM job "
          "twin "
          "WHERE twin.dedupe_key = job.dedupe_key AND twin.id <> job.id AND (twin.state IN ('waiting', "
          "'delayed') OR (twin.state = 'active' AND twin.lease_until < ?1 AND twin.id < job.id))))",
          at);
      if (!back) return back.error();
      const std::int64_t recovered = conn.changes();
      // Rows left: an equal job (same dedupe key) is already pending and covers them.
      Status dropped = store::exec(conn, "DELETE FROM job WHERE state = 'active' AND lease_until < ?", at);
      if (!dropped) return dropped.error();
      return recovered;
    });
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
        if (Status beat = heartbeat(); !beat)
          spdlog::warn("Lease heartbeat failed: {}", beat.error().message);
        next_heartbeat = t + options.heartbeat;
      }
      if (t >= next_recovery) {
        auto recovered = recover();
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

  Expected<QueueCounts> counts(store::Connection& conn, std::string_view queue_name, bool& is_paused) {
    QueueCounts result;
    is_paused = false;
    auto meta = store::query_one<bool, std::int64_t>(
        conn, "SELECT is_paused, completed FROM job_queue WHERE queue = ?", queue_name);
    if (!meta) return std::move(meta).error();
    if (*meta) std::tie(is_paused, result.completed) = **meta;
    auto states = store::query<std::string, std::int64_t>(
        conn, "SELECT state, count(*) FROM job WHERE queue = ? GROUP BY state", queue_name);
    if (!states) return std::move(states).error();
    for (const auto& [state, n] : *states) {
      if (state == "waiting") {
        (is_paused ? result.paused : result.waiting) = n;
      } else if (state == "delayed") {
        result.delayed = n;
      } else if (state == "active") {
        result.active = n;
      } else if (state == "failed") {
        result.failed = n;
      }
    }
    return result;
  }

  Expected<QueueStatus> status(std::string_view queue_name) {
    return db.read([&](store::Connection& conn) -> Expected<QueueStatus> {
      QueueStatus out;
      out.name = std::string(queue_name);
      auto c = counts(conn, queue_name, out.is_paused);
      if (!c) return c.error();
      out.counts = *c;
      std::lock_guard lock(mutex);
      out.concurrency = concurrency_of(queue_name);
      return out;
    });
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
    const std::int64_t at = now();
    return db.read([&](store::Connection& conn) -> Expected<std::int64_t> {
      std::int64_t total = 0;
      for (const auto& queue_name : queues) {
        auto meta =
            store::query_one<bool>(conn, "SELECT is_paused FROM job_queue WHERE queue = ?", queue_name);
        if (!meta) return std::move(meta).error();
        const bool paused = meta->value_or(false);

        std::string sql = "SELECT count(*) FROM job WHERE queue = ? AND (state = 'active'";
        if (!paused && !names.empty()) {
          std::string in = "name IN (";
          for (std::size_t i = 0; i < names.size(); ++i) in += i == 0 ? "?" : ", ?";
          in += ")";
          sql += " OR (" + in + " AND (state = 'waiting' OR (state = 'delayed' AND (run_at <= ? OR ? = 1))))";
        }
        sql += ")";
        auto stmt = conn.prepare(sql);
        if (!stmt) return stmt.error();
        int index = 1;
        stmt->bind(index++, queue_name);
        if (!paused && !names.empty()) {
          for (const auto& name : names) stmt->bind(index++, name);
          stmt->bind(index++, at);
          stmt->bind(index++, with_delayed ? 1 : 0);
        }
        auto has = stmt->step();
        if (!has) return has.error();
        total += stmt->int64(0);
      }
      return total;
    });
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
  auto recovered = impl->recover();
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
  auto id = impl_->db.write([&](store::Connection& conn) { return impl_->insert(conn, request); });
  if (id && *id > 0) impl_->notify();
  return id;
}

Status JobQueue::enqueue_all(std::span<const JobRequest> requests) {
  Status done = impl_->db.write([&](store::Connection& conn) -> Status {
    for (const auto& request : requests) {
      auto id = impl_->insert(conn, request);
      if (!id) return id.error();
    }
    return {};
  });
  if (done) impl_->notify();
  return done;
}

Expected<std::int64_t> JobQueue::enqueue(store::Connection& connection, const JobRequest& request) {
  auto id = impl_->insert(connection, request);
  impl_->notify();  // the caller commits soon; idle workers also poll
  return id;
}

Expected<bool> JobQueue::has_active(std::string_view queue_name) {
  return impl_->db.read([&](store::Connection& conn) -> Expected<bool> {
    return store::query_value<bool>(
        conn, "SELECT EXISTS (SELECT 1 FROM job WHERE queue = ? AND state = 'active')", queue_name);
  });
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
  return impl_->db.write([&](store::Connection& conn) -> Status {
    return store::exec(conn,
                       "INSERT INTO job_queue (queue, is_paused) VALUES (?, 1) ON CONFLICT (queue) DO UPDATE "
                       "SET is_paused = 1",
                       queue_name);
  });
}

Status JobQueue::resume(std::string_view queue_name) {
  if (Status known = check_queue(queue_name); !known) return known;
  Status done = impl_->db.write([&](store::Connection& conn) -> Status {
    return store::exec(conn,
                       "INSERT INTO job_queue (queue, is_paused) VALUES (?, 0) ON CONFLICT (queue) DO UPDATE "
                       "SET is_paused = 0",
                       queue_name);
  });
  if (done) impl_->notify();
  return done;
}

Status JobQueue::empty(std::string_view queue_name) {
  if (Status known = check_queue(queue_name); !known) return known;
  return impl_->db.write([&](store::Connection& conn) -> Status {
    return store::exec(conn, "DELETE FROM job WHERE queue = ? AND state IN ('waiting', 'delayed')",
                       queue_name);
  });
}

Status JobQueue::clear_failed(std::string_view queue_name) {
  if (Status known = check_queue(queue_name); !known) return known;
  return impl_->db.write([&](store::Connection& conn) -> Status {
    return store::exec(conn, "DELETE FROM job WHERE queue = ? AND state = 'failed'", queue_name);
  });
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
  return impl_->db.read([&](store::Connection& conn) -> Expected<std::vector<JobInfo>> {
    return store::query(
        conn,
        "SELECT id, name, data, attempts, created_at, run_at, coalesce(error, '') FROM job "
        "WHERE queue = ? AND state = ? ORDER BY priority, id LIMIT ?",
        [&](const store::Statement& row) {
          JobInfo info;
          info.id = row.int64(0);
          info.name = row.text(1);
          info.queue = std::string(queue_name);
          info.state = state;
          info.data = nlohmann::json::parse(row.text(2), nullptr, false);
          if (info.data.is_discarded()) info.data = nlohmann::json::object();
          info.attempts = static_cast<int>(row.int64(3));
          info.created_at_ms = row.int64(4);
          info.run_at_ms = row.int64(5);
          info.error = row.text(6);
          return info;
        },
        queue_name, to_string(state), std::max(0, limit));
  });
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

Expected<std::int64_t> JobQueue::recover_expired_leases() { return impl_->recover(); }

const std::string& JobQueue::worker_id() const { return impl_->options.worker_id; }

}  // namespace focal::jobs
