// SPDX-License-Identifier: AGPL-3.0-or-later
// The embedded SQLite store shared by the library server's components.
//
// One writer connection (SQLite allows one writer at a time; serialising in-process avoids SQLITE_BUSY
// storms) and a pool of reader connections that, thanks to WAL, read a consistent snapshot while the writer
// commits. Each component owns its tables and registers its own ordered migrations under its own name
// (schema_migrations(component, version)), so components evolve independently. Services talk to repository
// interfaces defined by their component; the SQLite implementations use this file. A PostgreSQL
// implementation replaces those repositories, not the services.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace focal::store {

// A prepared statement. Parameters are 1-based as in SQLite; columns are 0-based.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
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

  // Advances to the next row: true when a row is available, false when done. Errors carry the SQL and
  // SQLite's message; a constraint violation maps to kConflict.
  Expected<bool> step();
  // Runs a statement that returns no rows (or whose rows are ignored).
  Status run();
  // Rewinds for re-execution with new bindings (bindings are kept until re-bound).
  void reset();

  bool is_null(int column) const;
  std::int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  std::vector<std::byte> blob(int column) const;
  std::vector<float> floats(int column) const;

 private:
  Error error(std::string_view what) const;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// One SQLite connection. Not thread-safe: Database hands it to one thread at a time.
class Connection {
 public:
  static Expected<std::unique_ptr<Connection>> open(const std::string& path, bool read_only);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  Expected<Statement> prepare(std::string_view sql);
  // Runs one or more statements without parameters (DDL, PRAGMA).
  Status exec(std::string_view sql);
  std::int64_t last_insert_rowid() const;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  std::int64_t changes() const;

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// One step in a component's schema history. Versions start at 1 and never change once released.
struct Migration {
  int version;
  std::string_view sql;
  // The step rebuilds tables that others reference (SQLite's create-copy-drop-rename way to change
  // constraints): foreign keys are switched off around it and checked before it commits.
  bool rebuilds_tables = false;
};

struct DatabaseOptions {
  std::filesystem::path path;  // ":memory:" for a private in-memory database (readers then share the writer)
  int reader_connections = 4;
};

class Database {
 public:
  static Expected<std::unique_ptr<Database>> open(const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Applies `component`'s migrations newer than its recorded version, each in its own transaction. Fails (and
  // leaves that step unapplied) on the first error; refuses a database whose recorded version is newer than
  // the code knows (a downgrade).
  Status migrate(std::string_view component, std::span<const Migration> migrations);
  // The version recorded for `component` (0 when none).
  Expected<int> schema_version(std::string_view component);

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
