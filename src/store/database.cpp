// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/database.h"

#include <sqlite3.h>

#include <bit>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "core/logging.h"
#include "core/storage.h"

namespace focal::store {
namespace {

static_assert(std::endian::native == std::endian::little, "embedding blobs are stored little-endian");

Error sqlite_error(sqlite3* db, int code, std::string_view what) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  const int primary = code & 0xff;
  const int system_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  // A full disk is its own kind: the work stops and stays queued until space is freed (not a generic 500,
  // not an ML outage to retry at once).
  if (primary == SQLITE_FULL ||
      (primary == SQLITE_IOERR && (system_errno == ENOSPC || system_errno == EDQUOT))) {
    const char* file = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
    const std::filesystem::path dir = file != nullptr && *file != '\0'
                                          ? std::filesystem::path(file).parent_path()
                                          : std::filesystem::path();
    return storage_full(dir, "database: " + std::string(what.substr(0, 200)) + ": " + message);
  }
  ErrorKind kind = ErrorKind::kInternal;
  if (primary == SQLITE_CONSTRAINT) kind = ErrorKind::kConflict;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) kind = ErrorKind::kUnavailable;
  return Error{kind, std::string(what) + ": " + message};
}

}  // namespace

// --- Statement ---

Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

// Bind errors (index out of range, out of memory) surface on step(), which reports sqlite3_errmsg.
Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Statement& Statement::bind(int index, std::nullptr_t) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Statement& Statement::bind_blob(int index, std::span<const std::byte> bytes) {
  // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
  static constexpr std::byte kEmpty{};
  sqlite3_bind_blob64(stmt_, index, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_floats(int index, std::span<const float> values) {
  return bind_blob(index, std::as_bytes(values));
}

Expected<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return error("step");
}

Status Statement::run() {
  for (;;) {
    Expected<bool> row = step();
    if (!row) return row.error();
    if (!*row) return {};
  }
}

void Statement::reset() { sqlite3_reset(stmt_); }

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::text(int column) const {
  const auto* data = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  return data == nullptr ? std::string()
                         : std::string(reinterpret_cast<const char*>(data), static_cast<size_t>(size));
}

std::vector<std::byte> Statement::blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const auto size = static_cast<size_t>(sqlite3_column_bytes(stmt_, column));
  std::vector<std::byte> out(size);
  if (size > 0) std::memcpy(out.data(), data, size);
  return out;
}

std::vector<float> Statement::floats(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const auto size = static_cast<size_t>(sqlite3_column_bytes(stmt_, column));
  std::vector<float> out(size / sizeof(float));
  if (!out.empty()) std::memcpy(out.data(), data, out.size() * sizeof(float));
  return out;
}

Error Statement::error(std::string_view what) const {
  const char* sql = sqlite3_sql(stmt_);
  return sqlite_error(db_, sqlite3_extended_errcode(db_),
                      std::string(what) + " of '" + (sql != nullptr ? sql : "?") + "'");
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

// --- Connection ---

Expected<std::unique_ptr<Connection>> Connection::open(const std::string& path, bool read_only) {
  sqlite3* db = nullptr;
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error failed = sqlite_error(db, rc, "cannot open database '" + path + "'");
    sqlite3_close(db);
    return failed;
  }
  sqlite3_extended_result_codes(db, 1);
  // Concurrent writers from other processes (a CLI next to the server) wait instead of failing at once.
  sqlite3_busy_timeout(db, 10000);
  std::unique_ptr<Connection> connection(new Connection(db));
  // WAL gives readers a snapshot while the writer commits; NORMAL sync is durable across process crashes in
  // WAL mode (only an OS crash can lose the last commits). Foreign keys are per connection in SQLite.
  const char* pragmas = read_only
                            ? "PRAGMA foreign_keys=ON;"
                            : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;";
  if (Status set = connection->exec(pragmas); !set) return set.error();
  return connection;
}

Connection::~Connection() { sqlite3_close_v2(db_); }

Expected<Statement> Connection::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(db_, rc, "prepare of '" + std::string(sql) + "'");
  return Statement(db_, stmt);
}

Status Connection::exec(std::string_view sql) {
  char* message = nullptr;
  const std::string owned(sql);
  const int rc = sqlite3_exec(db_, owned.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    Error failed = sqlite_error(db_, rc, "exec of '" + owned + "'");
    sqlite3_free(message);
    return failed;
  }
  return {};
}

std::int64_t Connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

std::int64_t Connection::changes() const { return sqlite3_changes64(db_); }

// --- Database ---

struct Database::Impl {
  std::mutex writer_mutex;
  std::unique_ptr<Connection> writer;
  std::mutex pool_mutex;
  std::condition_variable pool_cv;
  std::vector<std::unique_ptr<Connection>> readers;
  std::vector<Connection*> idle_readers;
};

Database::Database(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Database::~Database() = default;

Expected<std::unique_ptr<Database>> Database::open(const DatabaseOptions& options) {
  auto impl = std::make_unique<Impl>();
  const std::string path = options.path.string();
  const bool in_memory = path == ":memory:" || path.empty();
  if (!in_memory && options.path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(options.path.parent_path(), ec);
    if (ec) return internal_error("cannot create folder for database '" + path + "': " + ec.message());
  }
  auto writer = Connection::open(in_memory ? ":memory:" : path, false);
  if (!writer) return writer.error();
  impl->writer = std::move(*writer);
  if (!in_memory) {
    for (int i = 0; i < options.reader_connections; ++i) {
      auto reader = Connection::open(path, true);
      if (!reader) return reader.error();
      impl->idle_readers.push_back(reader->get());
      impl->readers.push_back(std::move(*reader));
    }
  }
  auto database = std::unique_ptr<Database>(new Database(std::move(impl)));
  const Status created = database->write([](Connection& connection) {
    return connection.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, "
        "applied_at INTEGER NOT NULL, PRIMARY KEY (component, version))");
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

Status Database::begin(Connection& connection, bool writer) {
  return connection.exec(writer ? "BEGIN IMMEDIATE" : "BEGIN");
}

Status Database::end(Connection& connection, bool commit) {
  return connection.exec(commit ? "COMMIT" : "ROLLBACK");
}

Expected<int> Database::schema_version(std::string_view component) {
  return read([&](Connection& connection) -> Expected<int> {
    auto query =
        connection.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?");
    if (!query) return query.error();
    query->bind(1, component);
    auto row = query->step();
    if (!row) return row.error();
    return static_cast<int>(query->int64(0));
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
    const auto apply = [&](Connection& connection) -> Status {
      if (Status ran = connection.exec(migration.sql); !ran) return ran;
      if (migration.rebuilds_tables) {
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
      return record->run();
    };
    Status applied;
    if (migration.rebuilds_tables) {
      // PRAGMA foreign_keys cannot change inside a transaction, so it is set around one on the writer.
      Lease held = lease(true);
      Connection& connection = held.connection();
      applied = connection.exec("PRAGMA foreign_keys=OFF");
      if (applied) {
        applied = begin(connection, true);
        if (applied) {
          applied = apply(connection);
          const Status ended = end(connection, applied.ok());
          if (applied && !ended) applied = ended;
        }
        const Status restored = connection.exec("PRAGMA foreign_keys=ON");
        if (applied && !restored) applied = restored;
      }
    } else {
      applied = write(apply);
    }
    if (!applied) {
      return Error{applied.error().kind, "migration " + std::string(component) + " v" +
                                             std::to_string(migration.version) +
                                             " failed: " + applied.error().message};
    }
    spdlog::info("database: applied migration {} v{}", component, migration.version);
  }
  return {};
}

}  // namespace focal::store
