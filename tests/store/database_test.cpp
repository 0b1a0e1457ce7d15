// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/database.h"

#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "store/query.h"

namespace focal::store {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("focal-db-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto db = Database::open({.path = dir_ / "focal.db", .reader_connections = 2});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<Database> db_;
};

constexpr std::array kItemsV1 = {
    Migration{1, "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"}};
constexpr std::array kItemsV2 = {
    Migration{1, "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"},
    Migration{2, "ALTER TABLE item ADD COLUMN embedding BLOB"},
};

TEST_F(DatabaseTest, MigrationsApplyOnceAndInOrder) {
  ASSERT_TRUE(db_->migrate("items", kItemsV1).ok());
  EXPECT_EQ(*db_->schema_version("items"), 1);
  ASSERT_TRUE(db_->migrate("items", kItemsV2).ok());
  ASSERT_TRUE(db_->migrate("items", kItemsV2).ok());  // idempotent
  EXPECT_EQ(*db_->schema_version("items"), 2);
  EXPECT_EQ(*db_->schema_version("other"), 0);
}

TEST_F(DatabaseTest, RefusesDowngrade) {
  ASSERT_TRUE(db_->migrate("items", kItemsV2).ok());
  const Status downgraded = db_->migrate("items", kItemsV1);
  ASSERT_FALSE(downgraded.ok());
  EXPECT_NE(downgraded.error().message.find("newer"), std::string::npos) << downgraded.error().message;
}

TEST_F(DatabaseTest, FailedMigrationIsNotRecorded) {
  constexpr std::array bad = {Migration{1, "CREATE TABLE broken (id INTEGER PRIMARY KEY"}};
  const Status failed = db_->migrate("bad", bad);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("bad v1"), std::string::npos) << failed.error().message;
  EXPECT_EQ(*db_->schema_version("bad"), 0);
}

TEST_F(DatabaseTest, WriteRollsBackOnError) {
  ASSERT_TRUE(db_->migrate("items", kItemsV2).ok());
  const Status failed = db_->write([](Connection& c) -> Status {
    auto insert = c.prepare("INSERT INTO item (name) VALUES ('a')");
    if (Status s = insert->run(); !s) return s;
    return internal_error("abort");
  });
  EXPECT_FALSE(failed.ok());
  const auto count = db_->read([](Connection& c) -> Expected<std::int64_t> {
    auto q = c.prepare("SELECT COUNT(*) FROM item");
    if (!q) return q.error();
    (void)q->step();
    return q->int64(0);
  });
  EXPECT_EQ(*count, 0);
}

TEST_F(DatabaseTest, ConstraintViolationIsConflict) {
  ASSERT_TRUE(db_->migrate("items", kItemsV2).ok());
  auto insert = [&] {
    return db_->write(
        [](Connection& c) -> Status { return c.prepare("INSERT INTO item (name) VALUES ('x')")->run(); });
  };
  ASSERT_TRUE(insert().ok());
  const Status duplicate = insert();
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().kind, ErrorKind::kConflict);
}

TEST_F(DatabaseTest, FloatVectorsRoundTrip) {
  ASSERT_TRUE(db_->migrate("items", kItemsV2).ok());
  const std::vector<float> embedding = {0.25F, -1.5F, 3.0e-8F, 42.0F};
  ASSERT_TRUE(db_->write([&](Connection& c) -> Status {
                   auto insert = c.prepare("INSERT INTO item (name, embedding) VALUES (?, ?)");
                   if (!insert) return insert.error();
                   insert->bind(1, "v").bind_floats(2, embedding);
                   return insert->run();
                 })
                  .ok());
  const auto stored = db_->read([](Connection& c) -> Expected<std::vector<float>> {
    auto q = c.prepare("SELECT embedding FROM item WHERE name = 'v'");
    if (!q) return q.error();
    (void)q->step();
    return floats_of_dim(*q, 0, 4);
  });
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(*stored, embedding);
}

TEST_F(DatabaseTest, ConcurrentWritersAndReadersSeeCommittedRows) {
  ASSERT_TRUE(db_->migrate("items", kItemsV2).ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const Status inserted = db_->write([&](Connection& c) -> Status {
          auto insert = c.prepare("INSERT INTO item (name) VALUES (?)");
          if (!insert) return insert.error();
          insert->bind(1, std::to_string(t) + "-" + std::to_string(i));
          return insert->run();
        });
        ASSERT_TRUE(inserted.ok()) << inserted.error().message;
        const auto seen = db_->read([](Connection& c) -> Expected<std::int64_t> {
          auto q = c.prepare("SELECT COUNT(*) FROM item");
          if (!q) return q.error();
          (void)q->step();
          return q->int64(0);
        });
        ASSERT_TRUE(seen.ok());
        EXPECT_GE(*seen, i + 1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto total = db_->read([](Connection& c) -> Expected<std::int64_t> {
    auto q = c.prepare("SELECT COUNT(*) FROM item");
    (void)q->step();
    return q->int64(0);
  });
  EXPECT_EQ(*total, kThreads * kPerThread);
}

TEST(DatabaseInMemory, WorksWithoutReaders) {
  auto db = Database::open({.path = ":memory:"});
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->migrate("items", kItemsV1).ok());
  EXPECT_EQ(*(*db)->schema_version("items"), 1);
}

// --- store/query.h ---

class QueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::open({.path = ":memory:"});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
    ASSERT_TRUE(db_->write([](Connection& c) {
                     return c.exec(
                         "CREATE TABLE value (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB)");
                   })
                    .ok());
  }
  // Runs fn on the writer connection (in-memory databases have only that one).
  template <class Fn>
  auto on_connection(Fn&& fn) {
    return db_->write(std::forward<Fn>(fn));
  }
  std::unique_ptr<Database> db_;
};

TEST_F(QueryTest, BindsEveryParameterType) {
  const std::vector<float> embedding = {1.5F, -2.0F};
  const std::array<std::byte, 3> bytes = {std::byte{1}, std::byte{0}, std::byte{255}};
  const std::string text = "owned";
  const Status written = on_connection([&](Connection& c) -> Status {
    const std::int64_t big = std::int64_t{1} << 40;
    if (Status s = exec(c, "INSERT INTO value (id, i, r, t) VALUES (?, ?, ?, ?)", 1, big, 2.5, text); !s) {
      return s;
    }
    if (Status s = exec(c, "INSERT INTO value (id, i, t, b) VALUES (?, ?, ?, ?)", 2, true,
                        std::string_view("view"), Floats{embedding});
        !s) {
      return s;
    }
    if (Status s =
            exec(c, "INSERT INTO value (id, i, t, b) VALUES (?, ?, ?, ?)", 3, false, "literal", Blob{bytes});
        !s) {
      return s;
    }
    const char* pointer = "pointer";
    if (Status s = exec(c, "INSERT INTO value (id, i, r, t, b) VALUES (?, ?, ?, ?, ?)", 4, nullptr,
                        std::optional<double>{}, pointer, std::optional<std::string>{});
        !s) {
      return s;
    }
    return exec(c, "INSERT INTO value (id, i, r, t) VALUES (?, ?, ?, ?)", 5, std::optional<int>{7},
                std::optional<double>{0.5}, std::optional<std::string>{"some"});
  });
  ASSERT_TRUE(written.ok()) << written.error().message;

  const auto rows = on_connection([](Connection& c) {
    return query<std::int64_t, std::optional<std::int64_t>, std::optional<double>, std::string,
                 std::optional<std::vector<std::byte>>>(c, "SELECT id, i, r, t, b FROM value ORDER BY id");
  });
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 5U);
  EXPECT_EQ((*rows)[0], std::make_tuple(std::int64_t{1}, std::optional<std::int64_t>{std::int64_t{1} << 40},
                                        std::optional<double>{2.5}, std::string("owned"),
                                        std::optional<std::vector<std::byte>>{}));
  EXPECT_EQ(std::get<1>((*rows)[1]), std::optional<std::int64_t>{1});
  EXPECT_EQ(std::get<3>((*rows)[1]), "view");
  EXPECT_EQ(std::get<1>((*rows)[2]), std::optional<std::int64_t>{0});
  EXPECT_EQ(std::get<3>((*rows)[2]), "literal");
  EXPECT_EQ(std::get<4>((*rows)[2]), (std::optional<std::vector<std::byte>>{{bytes.begin(), bytes.end()}}));
  EXPECT_EQ(std::get<1>((*rows)[3]), std::nullopt);
  EXPECT_EQ(std::get<2>((*rows)[3]), std::nullopt);
  EXPECT_EQ(std::get<3>((*rows)[3]), "pointer");
  EXPECT_EQ(std::get<4>((*rows)[3]), std::nullopt);
  EXPECT_EQ(std::get<1>((*rows)[4]), std::optional<std::int64_t>{7});
  EXPECT_EQ(std::get<2>((*rows)[4]), std::optional<double>{0.5});
  EXPECT_EQ(std::get<3>((*rows)[4]), "some");

  const auto floats = on_connection(
      [](Connection& c) { return query_value<std::vector<float>>(c, "SELECT b FROM value WHERE id = 2"); });
  ASSERT_TRUE(floats.ok()) << floats.error().message;
  EXPECT_EQ(*floats, embedding);
}

TEST_F(QueryTest, ReadsTypedColumns) {
  const auto row = on_connection([](Connection& c) {
    return query_one<int, bool, bool, double, std::string, std::optional<std::string>, std::optional<int>>(
        c, "SELECT 42, 1, 0, 0.25, 'text', NULL, 3");
  });
  ASSERT_TRUE(row.ok()) << row.error().message;
  ASSERT_TRUE(row->has_value());
  EXPECT_EQ(**row, std::make_tuple(42, true, false, 0.25, std::string("text"), std::optional<std::string>{},
                                   std::optional<int>{3}));
}

TEST_F(QueryTest, OneColumnQueriesReturnPlainValues) {
  const auto ids = on_connection([](Connection& c) -> Expected<std::vector<std::int64_t>> {
    for (int id : {3, 1, 2}) {
      if (Status s = exec(c, "INSERT INTO value (id) VALUES (?)", id); !s) return s.error();
    }
    return query<std::int64_t>(c, "SELECT id FROM value WHERE id >= ? ORDER BY id", 2);
  });
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  EXPECT_EQ(*ids, (std::vector<std::int64_t>{2, 3}));
}

TEST_F(QueryTest, QueryOneOnNoRowIsNullopt) {
  const auto none = on_connection(
      [](Connection& c) { return query_one<std::int64_t>(c, "SELECT id FROM value WHERE id = ?", 99); });
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(*none, std::nullopt);
  const auto mapped = on_connection([](Connection& c) {
    return query_one(
        c, "SELECT id FROM value WHERE id = ?", [](const Statement& row) { return row.int64(0); }, 99);
  });
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(*mapped, std::nullopt);
  const auto missing = on_connection(
      [](Connection& c) { return query_value<std::int64_t>(c, "SELECT id FROM value WHERE id = 99"); });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::kInternal);
  EXPECT_NE(missing.error().message.find("SELECT id FROM value"), std::string::npos);
}

TEST_F(QueryTest, MapsRowsAndWalksThemWithCallbacks) {
  const auto result = on_connection([](Connection& c) -> Expected<std::vector<std::string>> {
    if (Status s = exec(c, "INSERT INTO value (id, t) VALUES (1, 'a'), (2, 'b'), (3, 'c')"); !s)
      return s.error();
    std::int64_t sum = 0;
    if (Status s =
            for_each_row(c, "SELECT id FROM value", [&](const Statement& row) { sum += row.int64(0); });
        !s) {
      return s.error();
    }
    EXPECT_EQ(sum, 6);
    // A failed Status from the callback stops the walk and is returned.
    int seen = 0;
    const Status stopped =
        for_each_row(c, "SELECT id FROM value ORDER BY id", [&](const Statement&) -> Status {
          ++seen;
          return not_found("stop");
        });
    EXPECT_FALSE(stopped.ok());
    EXPECT_EQ(stopped.error().kind, ErrorKind::kNotFound);
    EXPECT_EQ(seen, 1);
    return query(
        c, "SELECT t FROM value WHERE id != ? ORDER BY id",
        [](const Statement& row) { return row.text(0) + "!"; }, 2);
  });
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(*result, (std::vector<std::string>{"a!", "c!"}));
}

TEST_F(QueryTest, ErrorsCarryTheSqlAndKind) {
  const Status bad_sql = on_connection([](Connection& c) { return exec(c, "SELECT * FROM missing_table"); });
  ASSERT_FALSE(bad_sql.ok());
  EXPECT_NE(bad_sql.error().message.find("SELECT * FROM missing_table"), std::string::npos)
      << bad_sql.error().message;
  EXPECT_NE(bad_sql.error().message.find("no such table"), std::string::npos) << bad_sql.error().message;

  const auto bad_query =
      on_connection([](Connection& c) { return query<std::int64_t>(c, "SELECT nope FROM value"); });
  ASSERT_FALSE(bad_query.ok());
  EXPECT_NE(bad_query.error().message.find("SELECT nope FROM value"), std::string::npos);

  const Status conflict = on_connection([](Connection& c) -> Status {
    if (Status s = exec(c, "INSERT INTO value (id) VALUES (?)", 1); !s) return s;
    return exec(c, "INSERT INTO value (id) VALUES (?)", 1);
  });
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().kind, ErrorKind::kConflict);
  EXPECT_NE(conflict.error().message.find("INSERT INTO value"), std::string::npos)
      << conflict.error().message;
}

TEST(JsonIds, WritesAJsonArray) {
  EXPECT_EQ(json_ids(std::vector<std::int64_t>{}), "[]");
  EXPECT_EQ(json_ids(std::vector<std::int64_t>{7, -2, 30}), "[7,-2,30]");
}

}  // namespace
}  // namespace focal::store
