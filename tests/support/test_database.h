// SPDX-License-Identifier: AGPL-3.0-or-later
// The storage suites run once per engine: a test parameter, not a copy of each test.
//
//   class JobsTest : public ::testing::TestWithParam<store::Engine> { ... TestDatabase db_{GetParam()}; };
//   INSTANTIATE_TEST_SUITE_P(Engines, JobsTest, test_support::engines(), test_support::engine_name);
//
// SQLite databases live in a fresh temporary folder; PostgreSQL ones are fresh databases on the server
// that ctest's postgres fixture starts (tests/support/postgres.sh), whose socket folder FOCAL_TEST_POSTGRES
// names. Without it the PostgreSQL cases are skipped, except under CI=true,
// where a missing server is a failure.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>

#include "store/database.h"

namespace focal::test_support {

// CI=true: a missing engine fails instead of skipping.
bool ci();

inline auto engines() { return ::testing::Values(store::Engine::kSqlite, store::Engine::kPostgres); }

inline std::string engine_name(const ::testing::TestParamInfo<store::Engine>& info) {
  return info.param == store::Engine::kSqlite ? "Sqlite" : "Postgres";
}

// Which PostgreSQL server a database is made on: the suites' own (FOCAL_TEST_POSTGRES), or one whose
// PostgreSQL has the pgvector extension (ctest's pgvector fixture): FOCAL_TEST_PGVECTOR, by default the
// folder FOCAL_TEST_POSTGRES names with "-pgvector" appended (one variable reaches every discovered test).
enum class Server { kDefault, kPgvector };

// Where a library and its vectors live, for the suites that keep vectors: SQLite or PostgreSQL with the
// in-memory indexes, or PostgreSQL with the vectors in pgvector (FOCAL_VECTOR_INDEX=pgvector).
struct Backend {
  store::Engine engine;
  bool pgvector = false;
};

inline auto backends() {
  return ::testing::Values(Backend{store::Engine::kSqlite}, Backend{store::Engine::kPostgres},
                           Backend{store::Engine::kPostgres, true});
}

inline std::string to_string(const Backend& backend) {
  if (backend.pgvector) return "Pgvector";
  return backend.engine == store::Engine::kSqlite ? "Sqlite" : "Postgres";
}
inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return to_string(info.param);
}
// gtest prints a failing case's parameter with this.
inline void PrintTo(const Backend& backend, std::ostream* out) { *out << to_string(backend); }

// One empty database of one engine, dropped (or deleted) with this object.
class TestDatabase {
 public:
  explicit TestDatabase(store::Engine engine, Server server = Server::kDefault);
  explicit TestDatabase(const Backend& backend)
      : TestDatabase(backend.engine, backend.pgvector ? Server::kPgvector : Server::kDefault) {}
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  store::Engine engine() const { return engine_; }
  // Empty when the database exists; otherwise why not (GTEST_SKIP or fail with it: see require()).
  const std::string& unavailable() const { return unavailable_; }
  // Options that open this database; opening it twice gives two handles sharing it, as two processes do.
  store::DatabaseOptions options(int reader_connections = 2) const;
  // Opens it, or records a test failure and returns null.
  std::unique_ptr<store::Database> open(int reader_connections = 2) const;
  // A folder for the test's other files (previews, index files), removed with this object.
  const std::filesystem::path& dir() const { return dir_; }

 private:
  store::Engine engine_;
  std::filesystem::path dir_;
  std::string server_;  // libpq keywords of the test server
  std::string name_;    // PostgreSQL database name
  std::string unavailable_;
};

}  // namespace focal::test_support

// In SetUp(): skips the test (or fails it under CI=true) when its engine is not available.
#define FOCAL_REQUIRE_DATABASE(database)                                   \
  do {                                                                     \
    if (!(database).unavailable().empty()) {                               \
      if (::focal::test_support::ci()) FAIL() << (database).unavailable(); \
      GTEST_SKIP() << (database).unavailable();                            \
    }                                                                      \
  } while (false)
