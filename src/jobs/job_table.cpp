// SPDX-License-Identifier: AGPL-3.0-or-later
#include "jobs/job_table.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <tuple>
#include <utility>

#include "core/logging.h"
#include "store/query.h"

namespace focal::jobs::detail {
namespace {

// A condition on `job`, the row an UPDATE sends back to the queue: no other job with its dedupe key is
// pending (the unique index allows one pending job per key). Both engines accept it, unlike SQLite's
// UPDATE OR IGNORE.
constexpr char kNoPendingTwin[] =
    "(dedupe_key IS NULL OR NOT EXISTS (SELECT 1 FROM job twin WHERE twin.dedupe_key = job.dedupe_key AND "
    "twin.id <> job.id AND twin.state IN ('waiting', 'delayed')))";

// "?, ?, …" for `count` parameters.
std::string placeholders(std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

nlohmann::json parse_data(const std::string& text) {
  nlohmann::json data = nlohmann::json::parse(text, nullptr, false);
  return data.is_discarded() ? nlohmann::json::object() : data;
}

}  // namespace

JobTable::JobTable(store::Database& db, std::string worker_id, std::chrono::milliseconds lease,
                   std::function<std::int64_t()> clock, std::function<std::string(std::string_view)> queue_of)
    : db_(db),
      worker_id_(std::move(worker_id)),
      lease_(lease),
      clock_(std::move(clock)),
      queue_of_(std::move(queue_of)) {}

Expected<std::int64_t> JobTable::insert(store::Connection& connection, const JobRequest& request) const {
  const std::string queue_name = queue_of_(request.name);
  if (queue_name.empty()) return bad_request(fmt::format("Unknown job name '{}'", request.name));
  std::optional<std::string> dedupe = request.dedupe_key;
  // Immich deduplicates FacialRecognitionQueueAll by its own name: at most one pending.
  if (!dedupe && request.name == job::kFacialRecognitionQueueAll) dedupe = std::string(request.name);
  const std::int64_t at = now();
  const bool delayed = request.delay.count() > 0;
  // An equal pending job (same dedupe key) makes this one a no-op: no row comes back, id 0.
  auto id = store::query_one<std::int64_t>(
      connection,
      "INSERT INTO job (queue, name, data, priority, state, dedupe_key, run_at, created_at, updated_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
      queue_name, request.name, request.data.dump(), request.priority, delayed ? "delayed" : "waiting",
      dedupe, at + request.delay.count(), at, at);
  if (!id) return std::move(id).error();
  return id->value_or(0);
}

Expected<std::optional<Job>> JobTable::claim(const std::string& queue_name,
                                             const std::vector<std::string>& names) const {
  if (names.empty()) return std::optional<Job>{};
  const std::int64_t at = now();
  return db_.write([&](store::Connection& connection) -> Expected<std::optional<Job>> {
    Status promoted = store::exec(connection,
                                  "UPDATE job SET state = 'waiting', updated_at = ? WHERE queue = ? AND "
                                  "state = 'delayed' AND run_at <= ?",
                                  at, queue_name, at);
    if (!promoted) return promoted.error();

    auto paused =
        store::query_one<bool>(connection, "SELECT is_paused FROM job_queue WHERE queue = ?", queue_name);
    if (!paused) return std::move(paused).error();
    if (paused->value_or(false)) return std::optional<Job>{};

    std::string sql =
        "SELECT id, name, data, attempts FROM job WHERE queue = ? AND state = 'waiting' AND name IN (" +
        placeholders(names.size()) + ") ORDER BY priority, id LIMIT 1";
    // Several focal processes may claim from one PostgreSQL database at once: SKIP LOCKED passes over a
    // row another claim has locked and not yet committed, so each job goes to exactly one of them. (SQLite
    // has one writer at a time: nothing to skip.)
    if (connection.engine() == store::Engine::kPostgres) sql += " FOR UPDATE SKIP LOCKED";
    auto pick = connection.prepare(sql);
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
    claimed.data = parse_data(pick->text(2));
    claimed.attempt = static_cast<int>(pick->int64(3)) + 1;

    Status taken = store::exec(connection,
                               "UPDATE job SET state = 'active', attempts = attempts + 1, lease_owner = ?, "
                               "lease_until = ?, updated_at = ? WHERE id = ? AND state = 'waiting'",
                               worker_id_, at + lease_.count(), at, claimed.id);
    if (!taken) return taken.error();
    return std::optional<Job>{std::move(claimed)};
  });
}

Status JobTable::complete(const Job& done, std::span<const JobRequest> follow_ups) const {
  return db_.write([&](store::Connection& connection) -> Status {
    Status removed =
        store::exec(connection, "DELETE FROM job WHERE id = ? AND state = 'active' AND lease_owner = ?",
                    done.id, worker_id_);
    if (!removed) return removed;
    if (connection.changes() == 0) {
      // The lease was lost (recovered by another worker after a stall): that worker owns the job now.
      spdlog::warn("Job {} #{} finished after its lease was recovered; result kept, follow-ups skipped",
                   done.name, done.id);
      return {};
    }
    Status counted = store::exec(connection,
                                 "INSERT INTO job_queue (queue, completed) VALUES (?, 1) "
                                 "ON CONFLICT (queue) DO UPDATE SET completed = job_queue.completed + 1",
                                 done.queue);
    if (!counted) return counted;
    for (const auto& request : follow_ups) {
      auto id = insert(connection, request);
      if (!id) return id.error();
    }
    return {};
  });
}

Status JobTable::fail(const Job& done, const std::string& message) const {
  return db_.write([&](store::Connection& connection) -> Status {
    return store::exec(connection,
                       "UPDATE job SET state = 'failed', error = ?, lease_owner = NULL, lease_until = NULL, "
                       "updated_at = ? WHERE id = ? AND state = 'active' AND lease_owner = ?",
                       message, now(), done.id, worker_id_);
  });
}

Status JobTable::retry_later(const Job& done, const std::string& message,
                             std::chrono::milliseconds delay) const {
  const std::int64_t at = now();
  return db_.write([&](store::Connection& connection) -> Status {
    Status delayed =
        store::exec(connection,
                    std::string("UPDATE job SET state = 'delayed', run_at = ?, error = ?, "
                                "lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = "
                                "? AND state = 'active' AND lease_owner = ? AND ") +
                        kNoPendingTwin,
                    at + delay.count(), message, at, done.id, worker_id_);
    if (!delayed || connection.changes() > 0) return delayed;
    // Either the lease was lost, or an equal pending job (same dedupe key) already covers this one.
    return drop_if_still_mine(connection, done.id);
  });
}

Status JobTable::give_back(const Job& job) const {
  return db_.write([&](store::Connection& connection) -> Status {
    Status back =
        store::exec(connection,
                    std::string("UPDATE job SET state = 'waiting', attempts = CASE WHEN attempts > 0 "
                                "THEN attempts - 1 ELSE 0 END, lease_owner = NULL, lease_until = "
                                "NULL, error = ? WHERE id = ? AND state = 'active' AND "
                                "lease_owner = ? AND ") +
                        kNoPendingTwin,
                    "data directory full", job.id, worker_id_);
    if (!back || connection.changes() > 0) return back;
    return drop_if_still_mine(connection, job.id);  // an equal pending job covers it (or the lease was lost)
  });
}

Status JobTable::drop_if_still_mine(store::Connection& connection, std::int64_t id) const {
  return store::exec(connection, "DELETE FROM job WHERE id = ? AND state = 'active' AND lease_owner = ?", id,
                     worker_id_);
}

Status JobTable::heartbeat() const {
  const std::int64_t at = now();
  return db_.write([&](store::Connection& connection) -> Status {
    return store::exec(connection,
                       "UPDATE job SET lease_until = ? WHERE state = 'active' AND lease_owner = ?",
                       at + lease_.count(), worker_id_);
  });
}

// Lease owners "host:pid:…" of this host whose process is gone (a crash, or a full disk that kept it from
// handing its jobs back): their jobs need not wait for the lease to expire.
std::vector<std::string> JobTable::dead_local_owners(store::Connection& connection) const {
  std::vector<std::string> dead;
  const auto mine = worker_id_.substr(0, worker_id_.find(':') + 1);
  // Best effort: on a read error the owners seen so far are returned (the lease expiry still recovers).
  (void)store::for_each_row(
      connection, "SELECT DISTINCT lease_owner FROM job WHERE state = 'active' AND lease_owner IS NOT NULL",
      [&](const store::Statement& row) {
        const std::string owner = row.text(0);
        if (mine.size() < 2 || owner.rfind(mine, 0) != 0 || owner == worker_id_) return;
        const auto pid_text = owner.substr(mine.size(), owner.find(':', mine.size()) - mine.size());
        int pid = 0;
        const auto [end, ec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
        if (ec != std::errc() || pid <= 0 || pid == getpid()) return;
        if (::kill(pid, 0) != 0 && errno == ESRCH) dead.push_back(owner);
      });
  return dead;
}

Expected<std::int64_t> JobTable::recover() const {
  const std::int64_t at = now();
  return db_.write([&](store::Connection& connection) -> Expected<std::int64_t> {
    for (const auto& owner : dead_local_owners(connection)) {
      Status expired = store::exec(
          connection, "UPDATE job SET lease_until = 0 WHERE state = 'active' AND lease_owner = ?", owner);
      if (!expired) return expired.error();
    }
    // Of expired jobs sharing a dedupe key only the oldest goes back (the unique index allows one pending).
    Status back = store::exec(
        connection,
        "UPDATE job SET state = 'waiting', lease_owner = NULL, lease_until = NULL, updated_at = ?1 WHERE "
        "state = 'active' AND lease_until < ?1 AND (dedupe_key IS NULL OR NOT EXISTS (SELECT 1 FROM job "
        "twin "
        "WHERE twin.dedupe_key = job.dedupe_key AND twin.id <> job.id AND (twin.state IN ('waiting', "
        "'delayed') OR (twin.state = 'active' AND twin.lease_until < ?1 AND twin.id < job.id))))",
        at);
    if (!back) return back.error();
    const std::int64_t recovered = connection.changes();
    // Rows left: an equal job (same dedupe key) is already pending and covers them.
    Status dropped =
        store::exec(connection, "DELETE FROM job WHERE state = 'active' AND lease_until < ?", at);
    if (!dropped) return dropped.error();
    return recovered;
  });
}

Expected<bool> JobTable::has_active(std::string_view queue_name) const {
  return db_.read([&](store::Connection& connection) -> Expected<bool> {
    return store::query_value<bool>(
        connection, "SELECT EXISTS (SELECT 1 FROM job WHERE queue = ? AND state = 'active')", queue_name);
  });
}

Status JobTable::set_paused(std::string_view queue_name, bool paused) const {
  return db_.write([&](store::Connection& connection) -> Status {
    return store::exec(
        connection,
        "INSERT INTO job_queue (queue, is_paused) VALUES (?1, ?2) ON CONFLICT (queue) DO UPDATE "
        "SET is_paused = ?2",
        queue_name, paused ? 1 : 0);
  });
}

Status JobTable::empty(std::string_view queue_name) const {
  return db_.write([&](store::Connection& connection) -> Status {
    return store::exec(connection, "DELETE FROM job WHERE queue = ? AND state IN ('waiting', 'delayed')",
                       queue_name);
  });
}

Status JobTable::clear_failed(std::string_view queue_name) const {
  return db_.write([&](store::Connection& connection) -> Status {
    return store::exec(connection, "DELETE FROM job WHERE queue = ? AND state = 'failed'", queue_name);
  });
}

Expected<std::pair<QueueCounts, bool>> JobTable::counts(std::string_view queue_name) const {
  return db_.read([&](store::Connection& connection) -> Expected<std::pair<QueueCounts, bool>> {
    QueueCounts result;
    bool is_paused = false;
    auto meta = store::query_one<bool, std::int64_t>(
        connection, "SELECT is_paused, completed FROM job_queue WHERE queue = ?", queue_name);
    if (!meta) return std::move(meta).error();
    if (*meta) std::tie(is_paused, result.completed) = **meta;
    auto states = store::query<std::string, std::int64_t>(
        connection, "SELECT state, count(*) FROM job WHERE queue = ? GROUP BY state", queue_name);
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
    return std::pair{result, is_paused};
  });
}

Expected<std::vector<JobInfo>> JobTable::list(std::string_view queue_name, JobState state, int limit) const {
  return db_.read([&](store::Connection& connection) -> Expected<std::vector<JobInfo>> {
    return store::query(
        connection,
        "SELECT id, name, data, attempts, created_at, run_at, coalesce(error, '') FROM job "
        "WHERE queue = ? AND state = ? ORDER BY priority, id LIMIT ?",
        [&](const store::Statement& row) {
          JobInfo info;
          info.id = row.int64(0);
          info.name = row.text(1);
          info.queue = std::string(queue_name);
          info.state = state;
          info.data = parse_data(row.text(2));
          info.attempts = static_cast<int>(row.int64(3));
          info.created_at_ms = row.int64(4);
          info.run_at_ms = row.int64(5);
          info.error = row.text(6);
          return info;
        },
        queue_name, to_string(state), std::max(0, limit));
  });
}

Expected<std::int64_t> JobTable::remaining(const std::vector<std::string>& queues,
                                           const std::vector<std::string>& names, bool with_delayed) const {
  const std::int64_t at = now();
  return db_.read([&](store::Connection& connection) -> Expected<std::int64_t> {
    std::int64_t total = 0;
    for (const auto& queue_name : queues) {
      auto meta =
          store::query_one<bool>(connection, "SELECT is_paused FROM job_queue WHERE queue = ?", queue_name);
      if (!meta) return std::move(meta).error();
      const bool runnable_here = !meta->value_or(false) && !names.empty();

      std::string sql = "SELECT count(*) FROM job WHERE queue = ? AND (state = 'active'";
      if (runnable_here) {
        sql += " OR (name IN (" + placeholders(names.size()) +
               ") AND (state = 'waiting' OR (state = 'delayed' AND (run_at <= ? OR ? = 1))))";
      }
      sql += ")";
      auto statement = connection.prepare(sql);
      if (!statement) return statement.error();
      int index = 1;
      statement->bind(index++, queue_name);
      if (runnable_here) {
        for (const auto& name : names) statement->bind(index++, name);
        statement->bind(index++, at);
        statement->bind(index++, with_delayed ? 1 : 0);
      }
      auto has = statement->step();
      if (!has) return has.error();
      total += statement->int64(0);
    }
    return total;
  });
}

}  // namespace focal::jobs::detail
