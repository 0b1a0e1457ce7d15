// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/database.h"

#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <thread>

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

}  // namespace
}  // namespace focal::store
