// SPDX-License-Identifier: AGPL-3.0-or-later
#include "support/test_database.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>

namespace focal::test_support {
namespace {

// Runs one statement outside a transaction (CREATE/DROP DATABASE must), on the server's postgres database.
std::string admin(const std::string& server, const std::string& sql) {
  PGconn* conn = PQconnectdb((server + " dbname=postgres").c_str());
  std::string failure;
  if (PQstatus(conn) != CONNECTION_OK) {
    failure =
        std::string("cannot connect to the test PostgreSQL server (") + server + "): " + PQerrorMessage(conn);
  } else {
    PGresult* result = PQexec(conn, sql.c_str());
    if (PQresultStatus(result) != PGRES_COMMAND_OK) failure = sql + ": " + PQresultErrorMessage(result);
    PQclear(result);
  }
  PQfinish(conn);
  return failure;
}

std::string unique_suffix() {
  static std::atomic<int> counter{0};
  std::random_device random;
  return std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + std::to_string(random() % 100000);
}

}  // namespace

bool ci() {
  const char* value = std::getenv("CI");
  return value != nullptr && std::string(value) == "true";
}

TestDatabase::TestDatabase(store::Engine engine, Server kind) : engine_(engine) {
  const std::string suffix = unique_suffix();
  dir_ = std::filesystem::temp_directory_path() / ("focal-test-" + suffix);
  std::filesystem::create_directories(dir_);
  if (engine_ == store::Engine::kSqlite) return;
  const char* server = std::getenv("FOCAL_TEST_POSTGRES");
  if (server == nullptr || *server == '\0') {
    unavailable_ =
        "no PostgreSQL test server: FOCAL_TEST_POSTGRES (its socket folder) is unset; ctest's postgres "
        "fixture sets it";
    return;
  }
  std::string folder = server;
  if (kind == Server::kPgvector) {
    const char* pgvector = std::getenv("FOCAL_TEST_PGVECTOR");
    folder = pgvector != nullptr && *pgvector != '\0' ? pgvector : folder + "-pgvector";
  }
  server_ = "host=" + folder + " user=focal";
  name_ = "focal_test_" + suffix;
  unavailable_ = admin(server_, "CREATE DATABASE " + name_);
  if (!unavailable_.empty()) name_.clear();
}

TestDatabase::~TestDatabase() {
  if (!name_.empty()) (void)admin(server_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

store::DatabaseOptions TestDatabase::options(int reader_connections) const {
  store::DatabaseOptions options{.path = dir_ / "focal.db", .reader_connections = reader_connections};
  if (engine_ == store::Engine::kPostgres) options.postgres_url = server_ + " dbname=" + name_;
  return options;
}

std::unique_ptr<store::Database> TestDatabase::open(int reader_connections) const {
  auto db = store::Database::open(options(reader_connections));
  EXPECT_TRUE(db.ok()) << (db.ok() ? "" : db.error().message);
  return db.ok() ? std::move(*db) : nullptr;
}

}  // namespace focal::test_support
