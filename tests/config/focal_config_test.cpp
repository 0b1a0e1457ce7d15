// SPDX-License-Identifier: AGPL-3.0-or-later
#include "config/focal_config.h"

#include <gtest/gtest.h>

namespace focal {
namespace {

Expected<FocalConfig> parse(EnvMap env) {
  env.emplace("HOME", "/home/someone");
  auto config = parse_focal_config(env);
  if (!config) return config;
  if (Status valid = config->validate(); !valid) return valid.error();
  return config;
}

TEST(FocalConfig, TheLibraryIsInSqliteUnlessAPostgresqlUrlIsGiven) {
  auto embedded = parse({});
  ASSERT_TRUE(embedded) << embedded.error().message;
  EXPECT_TRUE(embedded->database_url.empty());
  EXPECT_EQ(embedded->database_location(), "/home/someone/.local/share/focal/focal.db");
  EXPECT_EQ(embedded->index_sync_ms, 10'000);
  EXPECT_EQ(embedded->vector_index, "memory");

  auto shared = parse({{"FOCAL_DATABASE_URL", "postgresql://focal:s3cret@db.lan:5433/photos?sslmode=require"},
                       {"FOCAL_INDEX_SYNC_MS", "2500"},
                       {"FOCAL_VECTOR_INDEX", "pgvector"}});
  ASSERT_TRUE(shared) << shared.error().message;
  EXPECT_EQ(shared->vector_index, "pgvector");
  EXPECT_EQ(shared->database_url, "postgresql://focal:s3cret@db.lan:5433/photos?sslmode=require");
  EXPECT_EQ(shared->index_sync_ms, 2500);
  // Messages and `focal config env` never show the password.
  EXPECT_EQ(shared->database_location(), "postgresql://focal:***@db.lan:5433/photos?sslmode=require");
  EXPECT_EQ(shared->to_json().find("s3cret"), std::string::npos);
  auto no_password = parse({{"FOCAL_DATABASE_URL", "postgres://focal@/photos?host=/run/postgresql"}});
  ASSERT_TRUE(no_password) << no_password.error().message;
  EXPECT_EQ(no_password->database_location(), "postgres://focal@/photos?host=/run/postgresql");
}

TEST(FocalConfig, BadDatabaseSettingsAreRefusedByName) {
  auto sqlite_url = parse({{"FOCAL_DATABASE_URL", "sqlite:///data/focal.db"}});
  ASSERT_FALSE(sqlite_url);
  EXPECT_NE(sqlite_url.error().message.find("FOCAL_DATABASE_URL"), std::string::npos);
  auto negative = parse({{"FOCAL_INDEX_SYNC_MS", "-1"}});
  ASSERT_FALSE(negative);
  EXPECT_NE(negative.error().message.find("FOCAL_INDEX_SYNC_MS"), std::string::npos);
  auto unknown_index = parse({{"FOCAL_VECTOR_INDEX", "faiss"}});
  ASSERT_FALSE(unknown_index);
  EXPECT_NE(unknown_index.error().message.find("FOCAL_VECTOR_INDEX must be memory or pgvector"),
            std::string::npos);
  auto pgvector_on_sqlite = parse({{"FOCAL_VECTOR_INDEX", "pgvector"}});
  ASSERT_FALSE(pgvector_on_sqlite);
  EXPECT_NE(pgvector_on_sqlite.error().message.find("needs a PostgreSQL library"), std::string::npos);
}

}  // namespace
}  // namespace focal
