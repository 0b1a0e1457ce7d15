// SPDX-License-Identifier: AGPL-3.0-or-later
// The SQLite engine: the embedded default.
#include <sqlite3.h>

#include <cerrno>
#include <cstring>

#include "core/storage.h"
#include "store/backend.h"

namespace focal::store::detail {
namespace {

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

class SqliteStatement final : public StatementBackend {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }

  // Bind errors (index out of range, out of memory) surface on step(), which reports sqlite3_errmsg.
  void bind_int64(int index, std::int64_t value) override { sqlite3_bind_int64(stmt_, index, value); }
  void bind_double(int index, double value) override { sqlite3_bind_double(stmt_, index, value); }
  void bind_text(int index, std::string_view text) override {
    sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  }
  void bind_null(int index) override { sqlite3_bind_null(stmt_, index); }
  void bind_blob(int index, std::span<const std::byte> bytes) override {
    // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
    static constexpr std::byte kEmpty{};
    sqlite3_bind_blob64(stmt_, index, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  }

  Expected<bool> step() override {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const char* sql = sqlite3_sql(stmt_);
    return sqlite_error(db_, sqlite3_extended_errcode(db_),
                        std::string("step of '") + (sql != nullptr ? sql : "?") + "'");
  }
  void reset() override { sqlite3_reset(stmt_); }

  bool is_null(int column) const override { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  ValueType type(int column) const override {
    switch (sqlite3_column_type(stmt_, column)) {
      case SQLITE_INTEGER:
        return ValueType::kInteger;
      case SQLITE_FLOAT:
        return ValueType::kReal;
      case SQLITE_TEXT:
        return ValueType::kText;
      case SQLITE_BLOB:
        return ValueType::kBlob;
      default:
        return ValueType::kNull;
    }
  }
  std::int64_t int64(int column) const override { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const override { return sqlite3_column_double(stmt_, column); }
  std::string text(int column) const override {
    const auto* data = sqlite3_column_text(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    return data == nullptr ? std::string()
                           : std::string(reinterpret_cast<const char*>(data), static_cast<size_t>(size));
  }
  std::vector<std::byte> blob(int column) const override {
    const void* data = sqlite3_column_blob(stmt_, column);
    const auto size = static_cast<size_t>(sqlite3_column_bytes(stmt_, column));
    std::vector<std::byte> out(size);
    if (size > 0) std::memcpy(out.data(), data, size);
    return out;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;
  ~SqliteConnection() override { sqlite3_close_v2(db_); }

  Engine engine() const override { return Engine::kSqlite; }

  Expected<Statement> prepare(std::string_view sql) override {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db_, rc, "prepare of '" + std::string(sql) + "'");
    return Statement(std::make_unique<SqliteStatement>(db_, stmt));
  }

  Status exec(std::string_view sql) override {
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

  std::int64_t last_insert_rowid() override { return sqlite3_last_insert_rowid(db_); }
  std::int64_t changes() const override { return sqlite3_changes64(db_); }

 private:
  sqlite3* db_;
};

}  // namespace

Expected<std::unique_ptr<Connection>> open_sqlite(const std::string& path, bool read_only) {
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
  auto connection = std::make_unique<SqliteConnection>(db);
  // WAL gives readers a snapshot while the writer commits; NORMAL sync is durable across process crashes in
  // WAL mode (only an OS crash can lose the last commits). Foreign keys are per connection in SQLite.
  const char* pragmas = read_only
                            ? "PRAGMA foreign_keys=ON;"
                            : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;";
  if (Status set = connection->exec(pragmas); !set) return set.error();
  return std::unique_ptr<Connection>(std::move(connection));
}

}  // namespace focal::store::detail
