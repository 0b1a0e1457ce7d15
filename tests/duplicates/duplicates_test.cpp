// SPDX-License-Identifier: AGPL-3.0-or-later
// Duplicate detection on synthetic CLIP embeddings (the generated CLIP models have random weights, so the
// grouping of real re-encoded photos cannot be tested here; the logic is tested on controlled vectors).
#include "duplicates/duplicates.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "jobs/jobs.h"
#include "library/library.h"
#include "ml_client/ml_client.h"
#include "search/search.h"
#include "settings/settings.h"
#include "store/database.h"
#include "support/library_test_helpers.h"
#include "support/test_database.h"

namespace focal::duplicates {
namespace {

constexpr std::int64_t kOwner = 1;  // the user whose library these tests build

namespace fs = std::filesystem;

TEST(PlanGrouping, NewGroupJoinAndMergeAndClear) {
  // No candidates, no group: nothing.
  GroupingPlan none = plan_grouping(1, std::nullopt, {});
  EXPECT_FALSE(none.target);
  EXPECT_FALSE(none.needs_new_id);
  EXPECT_FALSE(none.clear_self);
  // No candidates but a group: leave it.
  GroupingPlan leave = plan_grouping(1, 7, {});
  EXPECT_TRUE(leave.clear_self);
  EXPECT_EQ(leave.updated, std::vector<AssetId>{1});
  // Candidates without groups: a new group for all.
  const Candidate fresh[] = {{2, std::nullopt}, {3, std::nullopt}};
  GroupingPlan created = plan_grouping(1, std::nullopt, fresh);
  EXPECT_TRUE(created.needs_new_id);
  EXPECT_EQ(created.assets, (std::vector<AssetId>{2, 3, 1}));
  // Candidates in two groups: the first group is the target and the second merges into it.
  const Candidate grouped[] = {{2, 10}, {3, 11}, {4, std::nullopt}, {5, 10}};
  GroupingPlan merged = plan_grouping(1, std::nullopt, grouped);
  EXPECT_EQ(merged.target, 10);
  EXPECT_EQ(merged.merged_groups, std::vector<DuplicateId>{11});
  EXPECT_EQ(merged.updated, (std::vector<AssetId>{3, 4, 1}));
  // The asset's own group wins.
  GroupingPlan own = plan_grouping(1, 11, grouped);
  EXPECT_EQ(own.target, 11);
  EXPECT_EQ(own.merged_groups, std::vector<DuplicateId>{10});
}

// Runs on both engines.
class DuplicateServiceTest : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override {
    FOCAL_REQUIRE_DATABASE(database_);
    dir_ = database_.dir();
    db_ = database_.open();
    ASSERT_NE(db_, nullptr);
    ASSERT_TRUE(library::migrate(*db_));
    ASSERT_TRUE(jobs::migrate(*db_));
    ASSERT_TRUE(settings::migrate(*db_));
    ASSERT_TRUE(search::migrate(*db_));
    ASSERT_TRUE(migrate(*db_));
    auto queue = jobs::JobQueue::open(*db_);
    ASSERT_TRUE(queue);
    queue_ = std::move(*queue);
    auto settings = settings::SettingsStore::open(*db_, {});
    ASSERT_TRUE(settings);
    settings_ = std::move(*settings);
    library::LibraryOptions options;
    options.data_dir = dir_;
    auto library = library::LibraryService::create(*db_, *queue_, options);
    ASSERT_TRUE(library) << library.error().message;
    library_ = std::move(*library);
    auto smart = search::SmartSearchService::open(*db_, *settings_, ml_, library_->assets());
    ASSERT_TRUE(smart) << smart.error().message;
    smart_ = std::move(*smart);
    auto service = DuplicateService::create(*db_, *queue_, *settings_, *smart_, *library_);
    ASSERT_TRUE(service);
    service_ = std::move(*service);
  }
  void TearDown() override {
    service_.reset();
    library_.reset();
    smart_.reset();
    queue_.reset();
    settings_.reset();
    db_.reset();
  }

  AssetId add_asset(const std::vector<float>& embedding, std::int64_t file_size = 1000,
                    std::int64_t owner = kOwner) {
    const int n = ++made_;
    AssetId id = 0;
    Status written = db_->write([&](store::Connection& c) -> Status {
      auto s = c.prepare(
          "INSERT INTO asset (original_path, original_file_name, checksum, file_size, file_created_at, "
          "created_at, updated_at, status, owner_id) VALUES (?, ?, ?, ?, ?, 0, 0, 'ready', ?)");
      if (!s) return s.error();
      s->bind(1, "/p/" + std::to_string(n)).bind(2, std::to_string(n)).bind(3, "c" + std::to_string(n));
      s->bind(4, file_size).bind(5, static_cast<std::int64_t>(n)).bind(6, owner);
      if (Status r = s->run(); !r) return r;
      id = c.last_insert_rowid();
      return {};
    });
    EXPECT_TRUE(written) << written.error().message;
    EXPECT_TRUE(smart_->upsert(id, embedding));
    return id;
  }

  // A unit vector at `angle` radians from `base`.
  std::vector<float> near(const std::vector<float>& base, double angle) {
    std::normal_distribution<double> normal;
    std::vector<double> u(base.size());
    double along = 0, norm = 0;
    for (double& x : u) x = normal(rng_);
    for (std::size_t i = 0; i < u.size(); ++i) along += u[i] * base[i];
    for (std::size_t i = 0; i < u.size(); ++i) {
      u[i] -= along * base[i];
      norm += u[i] * u[i];
    }
    std::vector<float> out(base.size());
    for (std::size_t i = 0; i < u.size(); ++i) {
      out[i] = static_cast<float>(base[i] * std::cos(angle) + u[i] / std::sqrt(norm) * std::sin(angle));
    }
    return out;
  }
  std::vector<float> random_unit() {
    std::vector<float> zero(512, 0.f);
    zero[0] = 1.f;
    return near(zero, 1.5);
  }

  std::mt19937_64 rng_{5};
  int made_ = 0;
  test_support::TestDatabase database_{GetParam()};
  fs::path dir_;
  test_support::UnavailableMl ml_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<jobs::JobQueue> queue_;
  std::unique_ptr<settings::SettingsStore> settings_;
  std::unique_ptr<search::SmartSearchService> smart_;
  std::unique_ptr<library::LibraryService> library_;
  std::unique_ptr<DuplicateService> service_;
};

TEST_P(DuplicateServiceTest, GroupsNearCopiesOnlyAndResolves) {
  // Cosine distance 1 - cos(angle): 0.08 rad -> 0.0032 (within 0.01), 0.2 rad -> 0.02 (outside).
  std::vector<float> photo = random_unit();
  AssetId original = add_asset(photo, 5000);
  AssetId copy = add_asset(near(photo, 0.08), 3000);
  AssetId similar = add_asset(near(photo, 0.2), 9000);
  AssetId other = add_asset(random_unit());
  for (AssetId id : {original, copy, similar, other}) {
    auto outcome = service_->detect(id);
    ASSERT_TRUE(outcome) << outcome.error().message;
  }
  auto groups = service_->groups(kOwner);
  ASSERT_TRUE(groups);
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].assets, (std::vector<AssetId>{original, copy}));
  EXPECT_EQ((*groups)[0].suggested_keep, std::vector<AssetId>{original});  // the larger file

  // A third copy near the copy joins the same group.
  AssetId third = add_asset(near(photo, 0.05), 100);
  ASSERT_TRUE(service_->detect(third));
  groups = service_->groups(kOwner);
  ASSERT_TRUE(groups);
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].assets.size(), 3u);

  // Validation, then resolve: keep the original, trash the copies.
  const DuplicateId group = (*groups)[0].id;
  ResolveRequest bad{group, {original}, {copy}};
  auto invalid = service_->resolve(kOwner, std::span(&bad, 1));
  ASSERT_TRUE(invalid);
  EXPECT_EQ((*invalid)[0].status, ResolveStatus::kValidation);
  ResolveRequest good{group, {original}, {copy, third}};
  auto resolved = service_->resolve(kOwner, std::span(&good, 1));
  ASSERT_TRUE(resolved);
  EXPECT_EQ((*resolved)[0].status, ResolveStatus::kSuccess) << (*resolved)[0].error;
  groups = service_->groups(kOwner);
  ASSERT_TRUE(groups);
  EXPECT_TRUE(groups->empty());
  auto trashed = library_->assets().get(copy);
  ASSERT_TRUE(trashed && *trashed);
  EXPECT_TRUE((*trashed)->deleted_at_ms);
  ResolveRequest gone{group, {}, {}};
  auto missing = service_->resolve(kOwner, std::span(&gone, 1));
  ASSERT_TRUE(missing);
  EXPECT_EQ((*missing)[0].status, ResolveStatus::kNotFound);
}

TEST_P(DuplicateServiceTest, TwoUsersSamePhotoAreNotDuplicatesOfEachOther) {
  std::vector<float> photo = random_unit();
  AssetId mine = add_asset(photo, 5000, kOwner);
  AssetId theirs = add_asset(near(photo, 0.01), 5000, kOwner + 1);
  for (AssetId id : {mine, theirs}) ASSERT_TRUE(service_->detect(id));
  for (std::int64_t owner : {kOwner, kOwner + 1}) {
    auto groups = service_->groups(owner);
    ASSERT_TRUE(groups);
    EXPECT_TRUE(groups->empty()) << "owner " << owner;
  }
  // Within one owner the same pair is a group, which the other owner can neither list, dismiss nor resolve.
  AssetId copy = add_asset(near(photo, 0.01), 4000, kOwner);
  ASSERT_TRUE(service_->detect(copy));
  auto groups = service_->groups(kOwner);
  ASSERT_TRUE(groups);
  ASSERT_EQ(groups->size(), 1u);
  const DuplicateId group = (*groups)[0].id;
  EXPECT_EQ(service_->dismiss(kOwner + 1, group).error().kind, ErrorKind::kNotFound);
  ResolveRequest steal{group, {}, {mine, copy}};
  auto resolved = service_->resolve(kOwner + 1, std::span(&steal, 1));
  ASSERT_TRUE(resolved);
  EXPECT_EQ((*resolved)[0].status, ResolveStatus::kNotFound);
  auto kept = library_->assets().get(mine);
  ASSERT_TRUE(kept && *kept);
  EXPECT_FALSE((*kept)->deleted_at_ms);
  EXPECT_EQ(service_->groups(kOwner)->size(), 1u);
}

TEST_P(DuplicateServiceTest, DismissAndQueueAll) {
  std::vector<float> photo = random_unit();
  AssetId a = add_asset(photo);
  AssetId b = add_asset(near(photo, 0.05));
  auto queued = service_->queue_all(false);
  ASSERT_TRUE(queued);
  EXPECT_EQ(*queued, 2);
  ASSERT_TRUE(service_->detect(a));
  ASSERT_TRUE(service_->detect(b));
  auto missing = service_->queue_all(false);
  ASSERT_TRUE(missing);
  EXPECT_EQ(*missing, 0);  // both marked duplicatesDetectedAt
  auto groups = service_->groups(kOwner);
  ASSERT_TRUE(groups);
  ASSERT_EQ(groups->size(), 1u);
  ASSERT_TRUE(service_->dismiss(kOwner, (*groups)[0].id));
  EXPECT_EQ(service_->dismiss(kOwner, (*groups)[0].id).error().kind, ErrorKind::kNotFound);
  groups = service_->groups(kOwner);
  ASSERT_TRUE(groups);
  EXPECT_TRUE(groups->empty());
  // A hidden asset is skipped; an asset without an embedding fails.
  ASSERT_TRUE(library_->set_visibility(a, library::Visibility::kHidden));
  EXPECT_EQ(*service_->detect(a), DetectOutcome::kSkipped);
  EXPECT_EQ(service_->detect(424242).error().kind, ErrorKind::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Engines, DuplicateServiceTest, test_support::engines(), test_support::engine_name);

}  // namespace
}  // namespace focal::duplicates
