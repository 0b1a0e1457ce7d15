// SPDX-License-Identifier: AGPL-3.0-or-later
// The store shared by the library server's components: embedded SQLite by default, or a PostgreSQL server
// (DatabaseOptions::postgres_url) that several focal processes share.
//
// One writer connection per process (SQLite allows one writer at a time, and serialising in-process avoids
// SQLITE_BUSY storms; on PostgreSQL it keeps a process's writes in the order it makes them, while other
// processes' writers interleave under row locks) and a pool of reader connections that read a consistent
// snapshot while the writer commits (WAL on SQLite, REPEATABLE READ on PostgreSQL). Each component owns its
// tables and registers its own ordered migrations under its own name (schema_migrations(component,
// version)), with the same version numbers on both engines, so components evolve independently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace focal::store {

// The SQL engine behind a Database. SQL in the components is written once where both engines accept it
// (`?` / `?N` parameters, ON CONFLICT, RETURNING) and chosen by engine() only where they differ.
enum class Engine { kSqlite, kPostgres };

// The kind of value a column of the current row holds (SQLite's storage classes; PostgreSQL columns map by
// type: integers and booleans, floating point and numeric, bytea, everything else as text).
enum class ValueType { kNull, kInteger, kReal, kText, kBlob };

namespace detail {
// One engine's prepared statement (store/backend.h).
class StatementBackend;
}  // namespace detail

// A prepared statement. Parameters are 1-based (`?N`, or `?` counted from the left); columns are 0-based.
class Statement {
 public:
  explicit Statement(std::unique_ptr<detail::StatementBackend> backend);
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, std::nullptr_t);
  Statement& bind_blob(int index, std::span<const std::byte> bytes);
  // float32 vectors (embeddings) are stored as little-endian blobs of 4 * size bytes.
  Statement& bind_floats(int index, std::span<const float> values);

  // Advances to the next row: true when a row is available, false when done. Errors carry the SQL and the
  // engine's message; a constraint violation maps to kConflict, a full disk to kStorageFull.
  Expected<bool> step();
  // Runs a statement that returns no rows (or whose rows are ignored).
  Status run();
  // Rewinds for re-execution with new bindings (bindings are kept until re-bound).
  void reset();

  bool is_null(int column) const;
  ValueType type(int column) const;
  std::int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  std::vector<std::byte> blob(int column) const;
  std::vector<float> floats(int column) const;

 private:
  std::unique_ptr<detail::StatementBackend> backend_;
};

// One connection to the engine. Not thread-safe: Database hands it to one thread at a time.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  virtual ~Connection() = default;

  virtual Engine engine() const = 0;
  virtual Expected<Statement> prepare(std::string_view sql) = 0;
  // Runs one or more statements without parameters (DDL, PRAGMA).
  virtual Status exec(std::string_view sql) = 0;
  // The id the last INSERT generated on this connection (an INTEGER PRIMARY KEY, or an identity column).
  virtual std::int64_t last_insert_rowid() = 0;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  virtual std::int64_t changes() const = 0;
  // Reconnects a connection the server dropped (PostgreSQL restarts); SQLite's never drop.
  virtual Status ensure_open() { return {}; }
};

// One step in a component's schema history. Versions start at 1 and never change once released.
struct Migration {
  int version;
  std::string_view sql;
  // The step rebuilds tables that others reference (SQLite's create-copy-drop-rename way to change
  // constraints): foreign keys are switched off around it and checked before it commits.
  bool rebuilds_tables = false;
  // The same step for PostgreSQL (same version number, same resulting tables; types and DDL differ). Empty:
  // the component has no PostgreSQL schema, and migrating it there fails with a message saying so.
  std::string_view postgres_sql = {};
};

struct DatabaseOptions {
  std::filesystem::path path;  // ":memory:" for a private in-memory database (readers then share the writer)
  int reader_connections = 4;
  // A libpq connection string or URI (postgresql://user@host:port/db?…): the library lives in that
  // PostgreSQL database instead of `path`.
  std::string postgres_url = {};
};

class Database {
 public:
  static Expected<std::unique_ptr<Database>> open(const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Engine engine() const;

  // Applies `component`'s migrations newer than its recorded version, each in its own transaction. Fails (and
  // leaves that step unapplied) on the first error; refuses a database whose recorded version is newer than
  // the code knows (a downgrade).
  Status migrate(std::string_view component, std::span<const Migration> migrations);
  // The version recorded for `component` (0 when none).
  Expected<int> schema_version(std::string_view component);
  // Every component's recorded version, by component name.
  Expected<std::vector<std::pair<std::string, int>>> schema_versions();

  // Runs `fn(Connection&)` on the writer connection inside BEGIN IMMEDIATE … COMMIT. The transaction commits
  // when fn returns an ok Status/Expected and rolls back otherwise (or when fn throws). Writers are
  // serialised.
  template <class Fn>
  auto write(Fn&& fn) -> decltype(fn(std::declval<Connection&>()));
  // Runs `fn(Connection&)` on a pooled reader inside a read transaction (one consistent snapshot).
  template <class Fn>
  auto read(Fn&& fn) -> decltype(fn(std::declval<Connection&>()));

 private:
  struct Impl;
  // RAII hold on a connection: the writer (under the writer lock) or a pooled reader.
  class Lease {
   public:
    Lease(Impl* impl, Connection* connection, bool writer)
        : impl_(impl), conn_(connection), writer_(writer) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    Connection& connection() { return *conn_; }

   private:
    Impl* impl_;
    Connection* conn_;
    bool writer_;
  };

  explicit Database(std::unique_ptr<Impl> impl);
  Lease lease(bool writer);
  static Status begin(Connection& connection, bool writer);
  static Status end(Connection& connection, bool commit);
  Status apply(std::string_view component, const Migration& migration);

  std::unique_ptr<Impl> impl_;
};

template <class Fn>
auto Database::write(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
  Lease held = lease(true);
  Connection& connection = held.connection();
  if (Status started = begin(connection, true); !started) return started.error();
  try {
    auto result = fn(connection);
    if (!result.ok()) {
      (void)end(connection, false);
      return result;
    }
    if (Status committed = end(connection, true); !committed) return committed.error();
    return result;
  } catch (...) {
    (void)end(connection, false);
    throw;
  }
}

template <class Fn>
auto Database::read(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
  Lease held = lease(false);
  Connection& connection = held.connection();
  if (Status started = begin(connection, false); !started) return started.error();
  try {
    auto result = fn(connection);
    (void)end(connection, false);  // read-only: nothing to commit
    return result;
  } catch (...) {
    (void)end(connection, false);
    throw;
  }
}

// Returns the float32 vector stored by Statement::bind_floats, or an error when the blob's size is not `dim`
// floats.
Expected<std::vector<float>> floats_of_dim(const Statement& row, int column, std::size_t dim);

// Current time as milliseconds since the Unix epoch (the store's timestamp unit).
std::int64_t now_ms();

}  // namespace focal::store
