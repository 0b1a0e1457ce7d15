// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/database.h"

#include <bit>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "core/logging.h"
#include "store/backend.h"

namespace focal::store {

static_assert(std::endian::native == std::endian::little, "embedding blobs are stored little-endian");

// --- Statement ---

Statement::Statement(std::unique_ptr<detail::StatementBackend> backend) : backend_(std::move(backend)) {}
Statement::Statement(Statement&& other) noexcept = default;
Statement& Statement::operator=(Statement&& other) noexcept = default;
Statement::~Statement() = default;

Statement& Statement::bind(int index, std::int64_t value) {
  backend_->bind_int64(index, value);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  backend_->bind_double(index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  backend_->bind_text(index, text);
  return *this;
}

Statement& Statement::bind(int index, std::nullptr_t) {
  backend_->bind_null(index);
  return *this;
}

Statement& Statement::bind_blob(int index, std::span<const std::byte> bytes) {
  backend_->bind_blob(index, bytes);
  return *this;
}

Statement& Statement::bind_floats(int index, std::span<const float> values) {
  return bind_blob(index, std::as_bytes(values));
}

Expected<bool> Statement::step() { return backend_->step(); }

Status Statement::run() {
  for (;;) {
    Expected<bool> row = step();
    if (!row) return row.error();
    if (!*row) return {};
  }
}

void Statement::reset() { backend_->reset(); }

bool Statement::is_null(int column) const { return backend_->is_null(column); }
ValueType Statement::type(int column) const { return backend_->type(column); }
std::int64_t Statement::int64(int column) const { return backend_->int64(column); }
double Statement::real(int column) const { return backend_->real(column); }
std::string Statement::text(int column) const { return backend_->text(column); }
std::vector<std::byte> Statement::blob(int column) const { return backend_->blob(column); }

std::vector<float> Statement::floats(int column) const {
  const std::vector<std::byte> bytes = blob(column);
  std::vector<float> out(bytes.size() / sizeof(float));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

Expected<std::vector<float>> floats_of_dim(const Statement& row, int column, std::size_t dim) {
  std::vector<float> values = row.floats(column);
  if (values.size() != dim) {
    return internal_error("stored vector has " + std::to_string(values.size()) + " values, expected " +
                          std::to_string(dim));
  }
  return values;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- Database ---

struct Database::Impl {
  Engine engine = Engine::kSqlite;
  std::mutex writer_mutex;
  std::unique_ptr<Connection> writer;
  std::mutex pool_mutex;
  std::condition_variable pool_cv;
  std::vector<std::unique_ptr<Connection>> readers;
  std::vector<Connection*> idle_readers;
};

Database::Database(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Database::~Database() = default;

Engine Database::engine() const { return impl_->engine; }

namespace {

// Migrations of every focal process sharing a PostgreSQL database take this transaction-scoped advisory
// lock, so that two processes starting together apply each step once (the second sees it recorded).
constexpr std::string_view kPostgresMigrationLock = "SELECT pg_advisory_xact_lock(7146232960218491233)";

constexpr std::string_view kSqliteMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, "
    "applied_at INTEGER NOT NULL, PRIMARY KEY (component, version))";
constexpr std::string_view kPostgresMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, "
    "applied_at BIGINT NOT NULL, PRIMARY KEY (component, version))";

Expected<int> recorded_version(Connection& connection, std::string_view component) {
  auto query =
      connection.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?");
  if (!query) return query.error();
  query->bind(1, component);
  auto row = query->step();
  if (!row) return row.error();
  return static_cast<int>(query->int64(0));
}

}  // namespace

Expected<std::unique_ptr<Database>> Database::open(const DatabaseOptions& options) {
  auto impl = std::make_unique<Impl>();
  const int readers = std::max(options.reader_connections, 0);
  if (!options.postgres_url.empty()) {
    impl->engine = Engine::kPostgres;
    auto writer = detail::open_postgres(options.postgres_url);
    if (!writer) return writer.error();
    impl->writer = std::move(*writer);
    for (int i = 0; i < readers; ++i) {
      auto reader = detail::open_postgres(options.postgres_url);
      if (!reader) return reader.error();
      impl->idle_readers.push_back(reader->get());
      impl->readers.push_back(std::move(*reader));
    }
  } else {
    const std::string path = options.path.string();
    const bool in_memory = path == ":memory:" || path.empty();
    if (!in_memory && options.path.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(options.path.parent_path(), ec);
      if (ec) return internal_error("cannot create folder for database '" + path + "': " + ec.message());
    }
    auto writer = detail::open_sqlite(in_memory ? ":memory:" : path, false);
    if (!writer) return writer.error();
    impl->writer = std::move(*writer);
    for (int i = 0; !in_memory && i < readers; ++i) {
      auto reader = detail::open_sqlite(path, true);
      if (!reader) return reader.error();
      impl->idle_readers.push_back(reader->get());
      impl->readers.push_back(std::move(*reader));
    }
  }
  auto database = std::unique_ptr<Database>(new Database(std::move(impl)));
  const Engine engine = database->engine();
  const Status created = database->write([&](Connection& connection) -> Status {
    if (engine == Engine::kSqlite) return connection.exec(kSqliteMigrationsTable);
    if (Status locked = connection.exec(kPostgresMigrationLock); !locked) return locked;
    return connection.exec(kPostgresMigrationsTable);
  });
  if (!created) return created.error();
  return database;
}

Database::Lease::~Lease() {
  if (writer_) {
    impl_->writer_mutex.unlock();
    return;
  }
  if (conn_ == impl_->writer.get()) {  // in-memory database: readers borrowed the writer
    impl_->writer_mutex.unlock();
    return;
  }
  {
    std::lock_guard lock(impl_->pool_mutex);
    impl_->idle_readers.push_back(conn_);
  }
  impl_->pool_cv.notify_one();
}

Database::Lease Database::lease(bool writer) {
  if (writer || impl_->readers.empty()) {
    impl_->writer_mutex.lock();
    return Lease(impl_.get(), impl_->writer.get(), writer);
  }
  std::unique_lock lock(impl_->pool_mutex);
  impl_->pool_cv.wait(lock, [&] { return !impl_->idle_readers.empty(); });
  Connection* connection = impl_->idle_readers.back();
  impl_->idle_readers.pop_back();
  return Lease(impl_.get(), connection, false);
}

// SQLite: BEGIN IMMEDIATE takes the write lock up front (no upgrade deadlock between two processes).
// PostgreSQL: writers run READ COMMITTED (each statement sees the latest commits; cross-process races are
// settled by row locks, conditional updates and SKIP LOCKED claims), readers one REPEATABLE READ snapshot.
Status Database::begin(Connection& connection, bool writer) {
  if (Status open = connection.ensure_open(); !open) return open;
  if (connection.engine() == Engine::kPostgres) {
    return connection.exec(writer ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  }
  return connection.exec(writer ? "BEGIN IMMEDIATE" : "BEGIN");
}

Status Database::end(Connection& connection, bool commit) {
  return connection.exec(commit ? "COMMIT" : "ROLLBACK");
}

Expected<int> Database::schema_version(std::string_view component) {
  return read([&](Connection& connection) { return recorded_version(connection, component); });
}

Expected<std::vector<std::pair<std::string, int>>> Database::schema_versions() {
  return read([](Connection& connection) -> Expected<std::vector<std::pair<std::string, int>>> {
    auto query = connection.prepare(
        "SELECT component, MAX(version) FROM schema_migrations GROUP BY component ORDER BY component");
    if (!query) return query.error();
    std::vector<std::pair<std::string, int>> out;
    for (;;) {
      auto row = query->step();
      if (!row) return row.error();
      if (!*row) return out;
      out.emplace_back(query->text(0), static_cast<int>(query->int64(1)));
    }
  });
}

Status Database::migrate(std::string_view component, std::span<const Migration> migrations) {
  auto current = schema_version(component);
  if (!current) return current.error();
  const int known = migrations.empty() ? 0 : migrations.back().version;
  if (*current > known) {
    return internal_error("database schema of '" + std::string(component) + "' is version " +
                          std::to_string(*current) + " but this build knows only up to " +
                          std::to_string(known) + " (was the database written by a newer focal?)");
  }
  for (const Migration& migration : migrations) {
    if (migration.version <= *current) continue;
    if (Status applied = apply(component, migration); !applied) {
      return Error{applied.error().kind, "migration " + std::string(component) + " v" +
                                             std::to_string(migration.version) +
                                             " failed: " + applied.error().message};
    }
  }
  return {};
}

Status Database::apply(std::string_view component, const Migration& migration) {
  const bool postgres = engine() == Engine::kPostgres;
  if (postgres && migration.postgres_sql.empty()) {
    return internal_error("component '" + std::string(component) +
                          "' has no PostgreSQL schema yet: use an SQLite library for it");
  }
  bool applied_now = false;
  const auto apply_in = [&](Connection& connection) -> Status {
    // Another process (a CLI beside the server, a second server) may have applied this step since the
    // version was read: check again under the write lock (SQLite's BEGIN IMMEDIATE, PostgreSQL's advisory
    // lock).
    if (postgres) {
      if (Status locked = connection.exec(kPostgresMigrationLock); !locked) return locked;
    }
    auto current = recorded_version(connection, component);
    if (!current) return current.error();
    if (*current >= migration.version) return {};
    if (Status ran = connection.exec(postgres ? migration.postgres_sql : migration.sql); !ran) return ran;
    if (migration.rebuilds_tables && !postgres) {
      auto check = connection.prepare("PRAGMA foreign_key_check");
      if (!check) return check.error();
      auto row = check->step();
      if (!row) return row.error();
      if (*row) return internal_error("foreign key violation in table " + check->text(0));
    }
    auto record =
        connection.prepare("INSERT INTO schema_migrations (component, version, applied_at) VALUES (?,?,?)");
    if (!record) return record.error();
    record->bind(1, component).bind(2, migration.version).bind(3, now_ms());
    applied_now = true;
    return record->run();
  };
  Status applied;
  if (migration.rebuilds_tables && !postgres) {
    // PRAGMA foreign_keys cannot change inside a transaction, so it is set around one on the writer.
    Lease held = lease(true);
    Connection& connection = held.connection();
    applied = connection.exec("PRAGMA foreign_keys=OFF");
    if (applied) {
      applied = begin(connection, true);
      if (applied) {
        applied = apply_in(connection);
        const Status ended = end(connection, applied.ok());
        if (applied && !ended) applied = ended;
      }
      const Status restored = connection.exec("PRAGMA foreign_keys=ON");
      if (applied && !restored) applied = restored;
    }
  } else {
    applied = write(apply_in);
  }
  if (applied && applied_now)
    spdlog::info("database: applied migration {} v{}", component, migration.version);
  return applied;
}

}  // namespace focal::store
