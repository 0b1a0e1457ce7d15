// SPDX-License-Identifier: AGPL-3.0-or-later
// Smart search (with a fake ML client) and keyword search over a real SQLite library schema. Assets are
// inserted with SQL following library_schema.h (the documented contract), so the tests need no image
// decoding.
#include "search/search.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "jobs/jobs.h"
#include "library/library.h"
#include "ml_client/ml_client.h"
#include "settings/settings.h"
#include "store/database.h"
#include "store/query.h"
#include "support/library_test_helpers.h"
#include "support/test_database.h"

namespace focal::search {
namespace {

constexpr std::size_t kDim = 512;  // ViT-B-32__openai and ViT-B-16__openai

// Embeddings from content: an image file "axis:N" or a text "axis:N" embeds to the unit vector on axis N,
// with a small component on axis N+1 so that neighbours are ordered.
std::vector<float> axis_vector(std::string_view spec) {
  std::vector<float> v(kDim, 0.0f);
  const auto colon = spec.find(':');
  const int axis = std::stoi(std::string(spec.substr(colon + 1)));
  v[static_cast<std::size_t>(axis) % kDim] = 1.0f;
  v[static_cast<std::size_t>(axis + 1) % kDim] = 0.1f;
  return v;
}

std::vector<float> random_vector(std::mt19937& rng, std::normal_distribution<float>& normal) {
  std::vector<float> v(kDim);
  for (float& x : v) x = normal(rng);
  return v;
}

class FakeMl final : public test_support::UnavailableMl {
 public:
  Expected<std::vector<float>> clip_image(std::string_view model, std::string_view bytes) override {
    ++image_calls;
    last_model = model;
    if (down) return Error{ErrorKind::kUnavailable, "Machine learning request '...' failed for all URLs"};
    if (wrong_dimension) return std::vector<float>(3, 1.0f);
    return axis_vector(bytes);
  }
  Expected<std::vector<float>> clip_text(std::string_view model, std::string_view text,
                                         std::string_view language) override {
    ++text_calls;
    last_model = model;
    last_language = language;
    if (down) return Error{ErrorKind::kUnavailable, "Machine learning request '...' failed for all URLs"};
    return axis_vector(text);
  }
  std::atomic<int> image_calls{0};
  std::atomic<int> text_calls{0};
  std::atomic<bool> down{false};
  bool wrong_dimension = false;
  std::string last_model;
  std::string last_language;
};

struct AssetSpec {
  std::int64_t id = 0;
  std::string file_name = {};
  std::string preview = {};  // file content ("axis:N"); empty: no preview
  std::string make = "Canon";
  std::string model = "EOS R5";
  std::string description = {};
  std::int64_t taken_ms = 1'689'292'800'000;  // 2023-07-14
  std::string date_time_original = {};        // camera local
  std::string visibility = "timeline";
  bool deleted = false;
  std::string type = "IMAGE";
  std::string file_type = "jpeg";
};

using test_support::Backend;

// Runs on both engines, and on PostgreSQL with pgvector.
class SearchTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    FOCAL_REQUIRE_DATABASE(database_);
    dir_ = database_.dir();
    std::filesystem::create_directories(dir_ / "thumbs");
    db_ = database_.open();
    ASSERT_NE(db_, nullptr);
    ASSERT_TRUE(library::migrate(*db_).ok());
    ASSERT_TRUE(jobs::migrate(*db_).ok());
    ASSERT_TRUE(settings::migrate(*db_).ok());
    ASSERT_TRUE(search::migrate(*db_).ok());
    auto settings = settings::SettingsStore::open(*db_, {});
    ASSERT_TRUE(settings.ok());
    settings_ = std::move(*settings);
    assets_ = std::make_unique<library::AssetRepository>(*db_, dir_);
  }
  void TearDown() override {
    service_.reset();
    assets_.reset();
    settings_.reset();
    db_.reset();
  }

  // `options` for this backend.
  SmartSearchOptions backend(SmartSearchOptions options = {}) const {
    options.pgvector = GetParam().pgvector;
    return options;
  }

  void open_service(SmartSearchOptions options = {}) {
    service_.reset();
    auto service = SmartSearchService::open(*db_, *settings_, ml_, *assets_, backend(options));
    ASSERT_TRUE(service.ok()) << service.error().message;
    service_ = std::move(*service);
  }

  void add(const AssetSpec& spec) {
    if (!spec.preview.empty()) {
      std::ofstream(dir_ / "thumbs" / (std::to_string(spec.id) + ".jpg"), std::ios::binary) << spec.preview;
    }
    Status ok = db_->write([&](store::Connection& c) -> Status {
      auto asset = c.prepare(
          "INSERT INTO asset (id, type, status, visibility, original_path, original_file_name, checksum, "
          "file_type, "
          "file_created_at, created_at, updated_at, deleted_at) VALUES (?, ?, 'ready', ?, ?, ?, ?, ?, ?, 0, "
          "0, ?)");
      if (!asset) return asset.error();
      asset->bind(1, spec.id)
          .bind(2, spec.type)
          .bind(3, spec.visibility)
          .bind(4, "/photos/" + std::to_string(spec.id) + "/" + spec.file_name)
          .bind(5, spec.file_name)
          .bind(6, "checksum-" + std::to_string(spec.id))
          .bind(7, spec.file_type)
          .bind(8, spec.taken_ms);
      if (spec.deleted)
        asset->bind(9, std::int64_t{1});
      else
        asset->bind(9, nullptr);
      if (Status s = asset->run(); !s) return s;
      auto exif = c.prepare(
          "INSERT INTO asset_exif (asset_id, make, model, description, date_time_original, file_size) "
          "VALUES (?, ?, ?, ?, ?, 1)");
      if (!exif) return exif.error();
      exif->bind(1, spec.id).bind(2, spec.make).bind(3, spec.model).bind(4, spec.description);
      if (spec.date_time_original.empty())
        exif->bind(5, nullptr);
      else
        exif->bind(5, spec.date_time_original);
      if (Status s = exif->run(); !s) return s;
      auto status = c.prepare("INSERT INTO asset_job_status (asset_id, metadata_extracted_at) VALUES (?, 1)");
      if (!status) return status.error();
      status->bind(1, spec.id);
      if (Status s = status->run(); !s) return s;
      if (spec.preview.empty()) return {};
      auto file = c.prepare("INSERT INTO asset_file (asset_id, type, path) VALUES (?, 'preview', ?)");
      if (!file) return file.error();
      file->bind(1, spec.id).bind(2, "thumbs/" + std::to_string(spec.id) + ".jpg");
      return file->run();
    });
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }

  std::int64_t count(const std::string& sql) {
    auto n = test_support::query_number(*db_, sql);
    return n.ok() ? *n : -1;
  }

  // Timeline assets 1..n with these embeddings of the active model, written straight to the store in one
  // transaction: a library encoded before the service started.
  void add_encoded(const std::vector<std::vector<float>>& vectors) {
    Status ok = db_->write([&](store::Connection& c) -> Status {
      for (std::size_t i = 0; i < vectors.size(); ++i) {
        const auto id = static_cast<std::int64_t>(i + 1);
        Status asset = store::exec(
            c,
            "INSERT INTO asset (id, type, status, visibility, original_path, original_file_name, checksum, "
            "file_type, file_created_at, created_at, updated_at) VALUES (?1, 'IMAGE', 'ready', 'timeline', "
            "?2, "
            "'x.jpg', ?2, 'jpeg', 0, 0, 0)",
            id, "/photos/" + std::to_string(id));
        if (!asset) return asset;
        Status embedding = store::exec(c,
                                       "INSERT INTO smart_search (asset_id, model, dim, embedding, version) "
                                       "VALUES (?1, 'ViT-B-32__openai', ?2, ?3, ?1)",
                                       id, static_cast<std::int64_t>(kDim), store::Floats{vectors[i]});
        if (!embedding) return embedding;
      }
      return {};
    });
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }

  std::vector<std::int64_t> ids(const Expected<SearchPage>& page) {
    std::vector<std::int64_t> out;
    if (!page.ok()) return {-1};
    for (const auto& hit : page->items) out.push_back(hit.asset_id);
    return out;
  }

  // Five indexed timeline assets on axes 10..14 (asset i on axis 10 + i - 1).
  void add_indexed_library() {
    for (std::int64_t i = 1; i <= 5; ++i)
      add({.id = i,
           .file_name = "IMG_" + std::to_string(i) + ".jpg",
           .preview = "axis:" + std::to_string(9 + i)});
    for (std::int64_t i = 1; i <= 5; ++i) {
      auto outcome = service_->index_asset(i);
      ASSERT_TRUE(outcome.ok()) << outcome.error().message;
      ASSERT_EQ(*outcome, IndexOutcome::kSuccess);
    }
  }

  test_support::TestDatabase database_{GetParam()};
  std::filesystem::path dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<settings::SettingsStore> settings_;
  std::unique_ptr<library::AssetRepository> assets_;
  FakeMl ml_;
  std::unique_ptr<SmartSearchService> service_;
};

TEST_P(SearchTest, IndexingOutcomes) {
  open_service();
  add({.id = 1, .file_name = "a.jpg", .preview = "axis:3"});
  add({.id = 2, .file_name = "b.jpg", .preview = ""});
  add({.id = 3, .file_name = "c.jpg", .preview = "axis:4", .visibility = "hidden"});
  EXPECT_EQ(*service_->index_asset(1), IndexOutcome::kSuccess);
  EXPECT_EQ(ml_.last_model, "ViT-B-32__openai");
  EXPECT_EQ(count("SELECT count(*) FROM smart_search WHERE asset_id = 1 AND model = 'ViT-B-32__openai' AND "
                  "dim = 512"),
            1);
  EXPECT_EQ(*service_->index_asset(2), IndexOutcome::kFailed);   // no preview
  EXPECT_EQ(*service_->index_asset(3), IndexOutcome::kSkipped);  // hidden
  EXPECT_EQ(*service_->index_asset(99), IndexOutcome::kFailed);  // no asset
  // Idempotent: a re-run replaces the row.
  EXPECT_EQ(*service_->index_asset(1), IndexOutcome::kSuccess);
  EXPECT_EQ(count("SELECT count(*) FROM smart_search"), 1);

  ml_.down = true;
  auto unavailable = service_->index_asset(1);
  ASSERT_FALSE(unavailable.ok());
  EXPECT_EQ(unavailable.error().kind, ErrorKind::kUnavailable);  // retried by the job queue
  ml_.down = false;
  ml_.wrong_dimension = true;
  EXPECT_FALSE(service_->index_asset(1).ok());
  ml_.wrong_dimension = false;

  ASSERT_TRUE(settings_->set_path("machineLearning.clip.enabled", "false").ok());
  const int calls = ml_.image_calls;
  EXPECT_EQ(*service_->index_asset(1), IndexOutcome::kSkipped);
  EXPECT_EQ(ml_.image_calls, calls);
}

TEST_P(SearchTest, SmartSearchRanksPagesAndCachesQueries) {
  open_service();
  add_indexed_library();
  SmartSearchRequest request;
  request.query = "  axis:12 ";
  request.language = "de";
  request.size = 2;
  auto first = service_->search(request);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->items.size(), 2u);
  EXPECT_EQ(first->items[0].asset_id, 3);  // axis 12
  EXPECT_NEAR(first->items[0].distance, 0.0f, 1e-5);
  EXPECT_EQ(first->items[1].asset_id, 2);  // axis 11 has a component on 12
  EXPECT_EQ(first->next_page, 2);
  EXPECT_EQ(ml_.last_language, "de");
  request.page = 3;
  auto last = service_->search(request);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->items.size(), 1u);  // 5 results, size 2: page 3 has one and no next page
  EXPECT_EQ(last->next_page, std::nullopt);
  EXPECT_EQ(ml_.text_calls, 1);  // the query embedding was cached
  request.language = "fr";
  ASSERT_TRUE(service_->search(request).ok());
  EXPECT_EQ(ml_.text_calls, 2);  // the language is part of the key

  SmartSearchRequest similar;
  similar.query_asset_id = 4;
  auto by_asset = service_->search(similar);
  ASSERT_TRUE(by_asset.ok());
  EXPECT_EQ(by_asset->items.front().asset_id, 4);
  EXPECT_EQ(by_asset->items.size(), 5u);
}

TEST_P(SearchTest, SmartSearchErrors) {
  open_service();
  add_indexed_library();
  SmartSearchRequest none;
  auto missing = service_->search(none);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "Either `query` or `queryAssetId` must be set");
  SmartSearchRequest unknown;
  unknown.query_asset_id = 77;
  EXPECT_EQ(service_->search(unknown).error().kind, ErrorKind::kNotFound);
  SmartSearchRequest bad_size;
  bad_size.query = "axis:1";
  bad_size.size = 1001;
  EXPECT_EQ(service_->search(bad_size).error().kind, ErrorKind::kBadRequest);
  bad_size.size = 10;
  bad_size.page = 0;
  EXPECT_EQ(service_->search(bad_size).error().kind, ErrorKind::kBadRequest);
  SmartSearchRequest people;
  people.query = "axis:1";
  people.filter.person_ids = {1};
  EXPECT_EQ(service_->search(people).error().kind, ErrorKind::kBadRequest);  // no resolver registered
  ml_.down = true;
  SmartSearchRequest fresh;
  fresh.query = "axis:200";
  EXPECT_EQ(service_->search(fresh).error().kind, ErrorKind::kUnavailable);
  ml_.down = false;
  ASSERT_TRUE(settings_->set_path("machineLearning.enabled", "false").ok());
  EXPECT_EQ(service_->search(fresh).error().message, "Smart search is not enabled");
}

TEST_P(SearchTest, SmartSearchFilters) {
  open_service();
  add({.id = 1, .file_name = "a.jpg", .preview = "axis:20", .make = "Canon", .taken_ms = 1000});
  add({.id = 2,
       .file_name = "b.png",
       .preview = "axis:21",
       .make = "Nikon",
       .taken_ms = 2000,
       .file_type = "png"});
  add({.id = 3, .file_name = "c.jpg", .preview = "axis:22", .make = "Nikon", .taken_ms = 3000});
  add({.id = 4, .file_name = "d.jpg", .preview = "axis:20", .make = "Canon", .taken_ms = 4000});
  for (std::int64_t i = 1; i <= 4; ++i) ASSERT_EQ(*service_->index_asset(i), IndexOutcome::kSuccess);
  // Trash one and archive another after indexing: trashed assets disappear, archived ones stay.
  ASSERT_TRUE(db_->write([](store::Connection& c) {
                   return c.exec(
                       "UPDATE asset SET deleted_at = 5 WHERE id = 4; "
                       "UPDATE asset SET visibility = 'archive' WHERE id = 3");
                 })
                  .ok());
  SmartSearchRequest request;
  request.query = "axis:20";
  EXPECT_EQ(ids(service_->search(request)), (std::vector<std::int64_t>{1, 2, 3}));
  request.filter.with_deleted = true;
  EXPECT_EQ(ids(service_->search(request)), (std::vector<std::int64_t>{1, 4, 2, 3}));
  request.filter = {};
  request.filter.make = "Nikon";
  EXPECT_EQ(ids(service_->search(request)), (std::vector<std::int64_t>{2, 3}));
  request.filter = {};
  request.filter.taken_after_ms = 2000;
  request.filter.taken_before_ms = 3000;  // inclusive
  EXPECT_EQ(ids(service_->search(request)), (std::vector<std::int64_t>{2, 3}));
  request.filter = {};
  request.filter.file_type = "png";
  EXPECT_EQ(ids(service_->search(request)), (std::vector<std::int64_t>{2}));
  request.filter = {};
  request.filter.type = "VIDEO";
  EXPECT_TRUE(ids(service_->search(request)).empty());
  request.filter = {};
  request.filter.allowed_asset_ids = std::unordered_set<std::int64_t>{3, 4};
  EXPECT_EQ(ids(service_->search(request)), (std::vector<std::int64_t>{3}));  // 4 is trashed
  // People: the resolver gives the assets containing all listed people.
  std::vector<std::int64_t> asked;
  search::FilterResolvers resolvers;
  resolvers.people = [&](std::optional<std::int64_t>, std::span<const std::int64_t> people) {
    asked.assign(people.begin(), people.end());
    return Expected<std::unordered_set<std::int64_t>>(std::unordered_set<std::int64_t>{1, 3});
  };
  service_->set_resolvers(resolvers);
  request.filter = {};
  request.filter.person_ids = {7, 8};
  request.filter.make = "Nikon";
  EXPECT_EQ(ids(service_->search(request)), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(asked, (std::vector<std::int64_t>{7, 8}));
}

TEST_P(SearchTest, ModelChangeInvalidatesAndMissingRequeues) {
  open_service();
  add_indexed_library();
  EXPECT_TRUE(service_->assets_to_index(false)->empty());
  ASSERT_TRUE(settings_->set_path("machineLearning.clip.modelName", "ViT-B-16__openai").ok());
  SmartSearchRequest request;
  request.query = "axis:10";
  auto after_change = service_->search(request);
  ASSERT_TRUE(after_change.ok());
  EXPECT_TRUE(after_change->items.empty());  // old-model embeddings are never searched
  EXPECT_EQ(ml_.last_model, "ViT-B-16__openai");
  EXPECT_EQ(*service_->assets_to_index(false), (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  ASSERT_EQ(*service_->index_asset(1), IndexOutcome::kSuccess);
  EXPECT_EQ(ids(service_->search(request)), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(*service_->assets_to_index(false), (std::vector<std::int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(count("SELECT count(*) FROM smart_search WHERE model = 'ViT-B-16__openai'"), 1);

  // Switching back finds the embeddings that were not re-encoded.
  ASSERT_TRUE(settings_->set_path("machineLearning.clip.modelName", "ViT-B-32__openai").ok());
  request.query = "axis:11";
  EXPECT_EQ(ids(service_->search(request)), (std::vector<std::int64_t>{2, 3, 4, 5}));  // no distance cutoff

  // "All": every embedding is deleted and every asset with a preview is queued.
  EXPECT_EQ(*service_->assets_to_index(true), (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(count("SELECT count(*) FROM smart_search"), 0);
  EXPECT_TRUE(service_->search(request)->items.empty());
}

TEST_P(SearchTest, IndexIsRebuiltFromTheStoreAtStartup) {
  open_service();
  add_indexed_library();
  service_.reset();
  open_service();
  SmartSearchRequest request;
  request.query = "axis:14";
  EXPECT_EQ(ids(service_->search(request)).front(), 5);
  EXPECT_EQ(service_->embedding(5)->value().size(), kDim);
  ASSERT_TRUE(service_->remove(5).ok());
  EXPECT_FALSE(service_->embedding(5)->has_value());
  EXPECT_EQ(count("SELECT count(*) FROM smart_search"), 4);
}

TEST_P(SearchTest, AnotherProcessCatchesUpWithTheStore) {
  open_service();
  add_indexed_library();
  // A second handle on the same database stands for a second focal process with its own index.
  auto other_db = database_.open();
  ASSERT_NE(other_db, nullptr);
  auto other_settings = settings::SettingsStore::open(*other_db, {});
  ASSERT_TRUE(other_settings.ok());
  auto other = SmartSearchService::open(*other_db, **other_settings, ml_, *assets_, backend());
  ASSERT_TRUE(other.ok()) << other.error().message;
  const std::vector<float> query = axis_vector("axis:14");
  EXPECT_EQ((*other)->nearest(query, 1, {})->front().id, 5);

  // Written by this process after the other one loaded: a new embedding, a changed one and a removed one.
  add({.id = 6, .file_name = "IMG_6.jpg", .preview = "axis:20"});
  ASSERT_EQ(*service_->index_asset(6), IndexOutcome::kSuccess);
  ASSERT_TRUE(service_->upsert(1, axis_vector("axis:14")).ok());
  ASSERT_TRUE(service_->remove(5).ok());
  // A single embedding is read from the store when the index lacks it (a duplicate job for an asset
  // encoded by another process); pgvector has it already. Compared by direction: an index holds unit vectors.
  std::vector<float> taken = (*other)->embedding(6)->value();
  std::vector<float> expected = axis_vector("axis:20");
  ASSERT_TRUE(normalize(taken) && normalize(expected));
  EXPECT_EQ(taken, expected);
  auto synced = (*other)->sync_with_store();
  ASSERT_TRUE(synced.ok()) << synced.error().message;
  EXPECT_EQ(*synced, GetParam().pgvector ? 0U : 2U);  // asset 6 is already in; pgvector: all were
  EXPECT_EQ((*other)->nearest(query, 1, {})->front().id, 1);
  EXPECT_EQ((*other)->nearest(axis_vector("axis:20"), 1, {})->front().id, 6);
  EXPECT_EQ((*other)->nearest(query, 10, {})->size(), 5U);
  EXPECT_EQ(*(*other)->sync_with_store(), 0U);  // nothing new
  other->reset();
}

TEST_P(SearchTest, ManyVectorsAreFoundNearlyExactlyAndFilteredPagesAreFull) {
  // 2400 embeddings in 48 clusters, stored before the service starts (pgvector: without their vectors, so the
  // service backfills them). Past the exact threshold the in-memory index is HNSW too.
  constexpr int kAssets = 2400;
  constexpr int kClusters = 48;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<float>> centres;
  for (int c = 0; c < kClusters; ++c) centres.push_back(random_vector(rng, normal));
  auto near = [&](int cluster) {
    std::vector<float> v = random_vector(rng, normal);
    for (std::size_t d = 0; d < kDim; ++d) v[d] = centres[static_cast<std::size_t>(cluster)][d] + 0.7f * v[d];
    return v;
  };
  std::vector<std::vector<float>> vectors;
  for (int i = 0; i < kAssets; ++i) vectors.push_back(near(i % kClusters));
  add_encoded(vectors);
  SmartSearchOptions options;
  options.index.exact_threshold = 500;
  options.index.hnsw.ef_construction = 64;
  open_service(options);
  if (GetParam().pgvector) {
    EXPECT_EQ(count("SELECT count(*) FROM smart_search_vector"), kAssets);
  }

  auto exact = make_exact_index(kDim);
  for (int i = 0; i < kAssets; ++i) {
    ASSERT_TRUE(exact->upsert(i + 1, vectors[static_cast<std::size_t>(i)]));
  }
  const std::unordered_set<VectorId> few{5, 17, 900, 2399};
  std::unordered_set<VectorId> most;  // 2058 ids: more than pgvector's index computes one by one
  for (VectorId id = 1; id <= kAssets; ++id)
    if (id % 7 != 0) most.insert(id);
  struct Case {
    SearchFilter filter;
    std::size_t k;
  };
  std::vector<Case> cases(3);
  cases[0].k = 10;
  cases[1].filter.accept = [](VectorId id) { return id % 10 == 0; };  // rejects 9 in 10 found
  cases[1].k = 50;
  cases[2].filter.allowed = &most;
  cases[2].k = 30;
  SearchFilter few_filter;
  few_filter.allowed = &few;
  // Recall@k over 20 queries of `service`, each case checked for full pages of allowed ids.
  auto check = [&](const SmartSearchService& service) {
    std::size_t found = 0;
    std::size_t wanted = 0;
    for (int q = 0; q < 20; ++q) {
      const std::vector<float> query = near(q * 5 % kClusters);
      for (const Case& c : cases) {
        auto got = service.nearest(query, c.k, c.filter);
        EXPECT_TRUE(got) << got.error().message;
        if (!got) return 0.0;
        EXPECT_EQ(got->size(), c.k);  // never a short page
        auto truth = exact->search(query, c.k, c.filter);
        std::set<VectorId> true_ids;
        for (const Neighbor& n : *truth) true_ids.insert(n.id);
        for (const Neighbor& n : *got) {
          EXPECT_TRUE(c.filter.allowed == nullptr || c.filter.allowed->contains(n.id)) << n.id;
          EXPECT_TRUE(!c.filter.accept || c.filter.accept(n.id)) << n.id;
          found += true_ids.contains(n.id) ? 1 : 0;
        }
        wanted += c.k;
      }
      // A small allowed set is searched exactly: the same ids in the same order.
      auto got = service.nearest(query, 3, few_filter);
      auto truth = exact->search(query, 3, few_filter);
      EXPECT_TRUE(got && got->size() == 3u);
      if (!got || got->size() != 3u) return 0.0;
      for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ((*got)[i].id, (*truth)[i].id);
    }
    return static_cast<double>(found) / static_cast<double>(wanted);
  };
  EXPECT_GE(check(*service_), 0.95);
  EXPECT_EQ(*service_->sync_with_store(), 0u);  // every stored embedding is searched already
  if (!GetParam().pgvector) return;

  // At this size PostgreSQL's planner prefers computing every distance. Sessions that may not scan the table
  // walk the HNSW graph instead, the path large libraries take: the same checks on that path.
  auto name = db_->read(
      [](store::Connection& c) { return store::query_value<std::string>(c, "SELECT current_database()"); });
  ASSERT_TRUE(name);
  ASSERT_TRUE(db_->write([&](store::Connection& c) {
    return c.exec("ALTER DATABASE \"" + *name + "\" SET enable_seqscan = off");
  }));
  auto indexed_db = database_.open();
  ASSERT_NE(indexed_db, nullptr);
  auto plan = indexed_db->read([](store::Connection& c) -> Expected<std::string> {
    auto query = store::query_value<std::string>(
        c, "SELECT embedding::text FROM smart_search_vector WHERE asset_id = 1");
    if (!query) return query;
    auto lines = store::query<std::string>(c,
                                           "EXPLAIN SELECT asset_id FROM smart_search_vector WHERE model = "
                                           "'ViT-B-32__openai' AND dim = 512 ORDER BY "
                                           "embedding::vector(512) <=> '" +
                                               *query + "'::vector(512) LIMIT 10");
    if (!lines) return lines.error();
    std::string text;
    for (const std::string& line : *lines) text += line + "\n";
    return text;
  });
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_NE(plan->find("Index Scan using smart_search_vector_hnsw_512"), std::string::npos) << *plan;
  auto indexed_settings = settings::SettingsStore::open(*indexed_db, {});
  ASSERT_TRUE(indexed_settings.ok());
  auto indexed = SmartSearchService::open(*indexed_db, **indexed_settings, ml_, *assets_, backend(options));
  ASSERT_TRUE(indexed.ok()) << indexed.error().message;
  EXPECT_GE(check(**indexed), 0.95);
}

TEST_P(SearchTest, PgvectorIsRefusedWhereItCannotRun) {
  if (GetParam().pgvector) GTEST_SKIP() << "this server has pgvector";
  SmartSearchOptions options;
  options.pgvector = true;
  auto refused = SmartSearchService::open(*db_, *settings_, ml_, *assets_, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
  // Debian's PostgreSQL 15, which the suites run on, has no pgvector package.
  EXPECT_NE(refused.error().message.find(GetParam().engine == store::Engine::kSqlite
                                             ? "needs a PostgreSQL library"
                                             : "the pgvector extension is not installed"),
            std::string::npos)
      << refused.error().message;
}

// --- saved HNSW index ---

class SavedIndexTest : public SearchTest {
 protected:
  static constexpr std::int64_t kAssets = 40;

  void SetUp() override {
    SearchTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    options_.index.exact_threshold = 8;  // HNSW with a handful of vectors
    options_.index.hnsw.ef_construction = 32;
    options_.index_dir = dir_;
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (std::int64_t i = 1; i <= kAssets; ++i) {
      add({.id = i, .file_name = "IMG_" + std::to_string(i) + ".jpg"});
      std::vector<float> v(kDim);
      for (auto& x : v) x = normal(rng);
      vectors_.push_back(std::move(v));
    }
    open_service(options_);
    for (std::int64_t i = 1; i <= kAssets; ++i)
      ASSERT_TRUE(service_->upsert(i, vectors_[static_cast<std::size_t>(i - 1)]).ok());
  }

  std::filesystem::path file() const { return dir_ / "smart-search-ViT-B-32__openai.hnsw"; }
  // A rebuild writes a new file (temporary + rename): a new inode.
  ino_t inode() const {
    struct stat info {};
    return ::stat(file().c_str(), &info) == 0 ? info.st_ino : 0;
  }
  std::vector<std::vector<Neighbor>> results() const {
    std::vector<std::vector<Neighbor>> out;
    for (const auto& v : vectors_) out.push_back(*service_->nearest(v, 5));
    return out;
  }

  SmartSearchOptions options_;
  std::vector<std::vector<float>> vectors_;
};

TEST_P(SavedIndexTest, SavedAtShutdownAndReusedWhenTheStoreMatches) {
  const auto before = results();
  EXPECT_EQ(before[3].front().id, 4);
  service_.reset();  // the index changed since it was built: saved
  ASSERT_TRUE(std::filesystem::exists(file()));
  const ino_t saved = inode();
  open_service(options_);
  EXPECT_EQ(inode(), saved);  // read back, not rebuilt and saved again
  EXPECT_EQ(results(), before);
  service_.reset();  // unchanged since read: not rewritten
  EXPECT_EQ(inode(), saved);
}

TEST_P(SavedIndexTest, StaleFingerprintTriggersARebuild) {
  service_.reset();
  const ino_t saved = inode();
  // Behind the service's back: one embedding replaced, one asset deleted (ON DELETE CASCADE).
  ASSERT_TRUE(db_->write([&](store::Connection& c) -> Status {
                   auto update = c.prepare(
                       "UPDATE smart_search SET embedding = ?1, version = version + 1 "
                       "WHERE asset_id = 7");
                   if (!update) return update.error();
                   update->bind_floats(1, vectors_[0]);
                   if (Status ok = update->run(); !ok) return ok;
                   return c.exec("DELETE FROM asset WHERE id = 9");
                 })
                  .ok());
  open_service(options_);
  EXPECT_NE(inode(), saved);  // rebuilt, then saved
  const auto first = *service_->nearest(vectors_[0], 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(std::set<VectorId>({first[0].id, first[1].id}), std::set<VectorId>({1, 7}));
  EXPECT_FALSE(service_->embedding(9)->has_value());
  const ino_t rebuilt = inode();
  service_.reset();
  open_service(options_);
  EXPECT_EQ(inode(), rebuilt);  // the rebuilt file matches the store
}

TEST_P(SavedIndexTest, RowsDeletedWhileRunningAreDroppedBeforeSaving) {
  ASSERT_TRUE(db_->write([](store::Connection& c) { return c.exec("DELETE FROM asset WHERE id = 3"); }).ok());
  service_.reset();
  const ino_t saved = inode();
  open_service(options_);
  EXPECT_EQ(inode(), saved);  // the file matched the store
  EXPECT_FALSE(service_->embedding(3)->has_value());
  const auto hits = service_->nearest(vectors_[2], 10);
  ASSERT_TRUE(hits.ok());
  for (const auto& hit : *hits) EXPECT_NE(hit.id, 3);
}

TEST_P(SavedIndexTest, DamagedFilesAreRebuilt) {
  const auto before = results();
  service_.reset();
  std::string good(std::filesystem::file_size(file()), '\0');
  std::ifstream(file(), std::ios::binary).read(good.data(), static_cast<std::streamsize>(good.size()));
  std::string flipped = good;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 1);
  std::string wrong_version = good;
  wrong_version[8] = 9;
  std::string wrong_dimension = good;
  wrong_dimension[17] = 1;  // dimension 512 (0x200) → 256
  for (const std::string& damaged :
       {good.substr(0, good.size() / 3), flipped, wrong_version, wrong_dimension, std::string("FOCALHNS")}) {
    std::ofstream(file(), std::ios::binary | std::ios::trunc) << damaged;
    const ino_t damaged_inode = inode();
    open_service(options_);
    EXPECT_NE(inode(), damaged_inode);  // rebuilt and saved over the damaged file
    EXPECT_EQ(results(), before);
    service_.reset();
  }
}

TEST_P(SearchTest, ExactIndexesAreNotSaved) {
  SmartSearchOptions options;
  options.index_dir = dir_;
  open_service(options);
  add_indexed_library();
  service_.reset();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "smart-search-ViT-B-32__openai.hnsw"));
}

TEST_P(SearchTest, JobsQueueAllIndexAndChainDuplicates) {
  open_service();
  for (std::int64_t i = 1; i <= 3; ++i)
    add({.id = i, .file_name = "x.jpg", .preview = "axis:" + std::to_string(i)});
  add({.id = 4, .file_name = "y.jpg", .preview = ""});  // no preview: not queued
  auto queue = jobs::JobQueue::open(*db_);
  ASSERT_TRUE(queue.ok()) << queue.error().message;
  service_->register_jobs(**queue);
  jobs::JobRequest all;
  all.name = jobs::job::kSmartSearchQueueAll;
  all.data = {{"force", false}};
  ASSERT_TRUE((*queue)->enqueue(all).ok());
  jobs::DrainOptions drain;
  drain.queues = {"smartSearch"};
  auto report = (*queue)->run_until_idle(drain);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(count("SELECT count(*) FROM smart_search"), 3);
  // Not from an upload: no duplicate detection follows.
  EXPECT_EQ((*queue)->list("duplicateDetection", jobs::JobState::kWaiting)->size(), 0u);

  jobs::JobRequest upload;
  upload.name = jobs::job::kSmartSearch;
  upload.data = {{"id", 2}, {"source", "upload"}};
  ASSERT_TRUE((*queue)->enqueue(upload).ok());
  ASSERT_TRUE((*queue)->run_until_idle(drain).ok());
  auto waiting = (*queue)->list("duplicateDetection", jobs::JobState::kWaiting);
  ASSERT_TRUE(waiting.ok());
  ASSERT_EQ(waiting->size(), 1u);
  EXPECT_EQ((*waiting)[0].name, "AssetDetectDuplicates");
  EXPECT_EQ((*waiting)[0].data, (nlohmann::json{{"id", 2}, {"source", "upload"}}));
}

// --- keyword search ---

TEST(Fts5QueryTest, QuotesEveryWordAndPrefixesTheLast) {
  EXPECT_EQ(fts5_query("beach sunset"), R"("beach" "sunset"*)");
  EXPECT_EQ(fts5_query(R"q(a"b OR c* NEAR(x) -y)q"), R"q("a""b" "OR" "c*" "NEAR(x)" "-y"*)q");
  EXPECT_EQ(fts5_query("   "), "");
  EXPECT_EQ(fts5_query("- * \""), "");
  EXPECT_EQ(fts5_query("café"), "\"café\"*");
}

TEST(TsqueryTest, FoldsTokensLikeFts5AndPrefixesTheLast) {
  EXPECT_EQ(tsquery_text("beach sunset"), "'beach' & 'sunset':*");
  EXPECT_EQ(tsquery_text("CAFÉ x-t4"), "'cafe' & ('x' <-> 't4':*)");
  EXPECT_EQ(tsquery_text(R"q(a"b OR c* -y)q"), "('a' <-> 'b') & 'or' & 'c' & 'y':*");
  EXPECT_EQ(tsquery_text("   "), "");
  EXPECT_EQ(tsquery_text("- * \""), "");
  // Fields a position apart, so that a phrase never spans two of them.
  EXPECT_EQ(tsvector_text({{"Café-de-Flore.jpg", 'A'}, {"Beach", 'B'}}),
            "'cafe':1A 'de':2A 'flore':3A 'jpg':4A 'beach':6B");
}

TEST_P(SearchTest, ReindexCoversEveryAssetAcrossStatementsAndChunks) {
  // More assets than one multi-row INSERT (100) and one write transaction (500) take, with gaps in the ids.
  for (std::int64_t id = 1; id <= 1234; ++id) {
    if (id % 10 == 0) continue;
    add({.id = id, .file_name = "IMG_" + std::to_string(id) + "_end.jpg", .preview = ""});
  }
  KeywordSearch keywords(*db_);
  ASSERT_TRUE(keywords.index_asset(5).ok());  // an existing row is replaced, not doubled
  ASSERT_TRUE(keywords.reindex_all().ok());
  EXPECT_EQ(count("SELECT count(*) FROM keyword_search"), 1234 - 123);
  for (const std::int64_t id : {1, 101, 599, 1234}) {
    KeywordSearchRequest request;
    request.query = "IMG_" + std::to_string(id) + "_end";  // a phrase: no other id matches
    auto page = keywords.search(request);
    ASSERT_TRUE(page.ok()) << page.error().message;
    ASSERT_EQ(page->items.size(), 1U) << id;
    EXPECT_EQ(page->items.front().asset_id, id);
  }
}

TEST_P(SearchTest, KeywordSearch) {
  add({.id = 1,
       .file_name = "IMG_0001.JPG",
       .preview = "",
       .description = "Sunset at the Beach",
       .date_time_original = "2023-07-14T19:00:00"});
  add({.id = 2,
       .file_name = "Café_de_Flore.jpg",
       .preview = "",
       .make = "FUJIFILM",
       .model = "X-T4",
       .taken_ms = 1'577'836'800'000});  // 2020-01-01 UTC
  add({.id = 3,
       .file_name = "beach_volley.png",
       .preview = "",
       .taken_ms = 1'600'000'000'000,
       .file_type = "png"});
  add({.id = 4, .file_name = "beach_trash.jpg", .preview = "", .deleted = true});
  add({.id = 5, .file_name = "beach_hidden.jpg", .preview = "", .visibility = "hidden"});
  KeywordSearch keywords(*db_);
  ASSERT_TRUE(keywords.reindex_all().ok());
  EXPECT_EQ(count("SELECT count(*) FROM keyword_search"), 5);
  const auto find = [&](const std::string& query, AssetFilter filter = {}) {
    KeywordSearchRequest request;
    request.query = query;
    request.filter = std::move(filter);
    auto page = keywords.search(request);
    EXPECT_TRUE(page.ok()) << query << ": " << (page.ok() ? "" : page.error().message);
    std::vector<std::int64_t> out;
    if (page.ok())
      for (const auto& hit : page->items) out.push_back(hit.asset_id);
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(find("beach"),
            (std::vector<std::int64_t>{1, 3}));  // description + file name; trashed/hidden excluded
  EXPECT_EQ(find("BEA"), (std::vector<std::int64_t>{1, 3}));  // case-insensitive prefix
  EXPECT_EQ(find("cafe"), (std::vector<std::int64_t>{2}));    // accent-insensitive
  EXPECT_EQ(find("CAFÉ flore"), (std::vector<std::int64_t>{2}));
  EXPECT_EQ(find("fujifilm x-t4"), (std::vector<std::int64_t>{2}));
  EXPECT_EQ(find("july 2023"), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(find("2020-01-01"), (std::vector<std::int64_t>{2}));
  EXPECT_EQ(find("jpg"), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(find("beach sunset"), (std::vector<std::int64_t>{1}));  // every word must match
  AssetFilter png;
  png.file_type = "png";
  EXPECT_EQ(find("beach", png), (std::vector<std::int64_t>{3}));
  AssetFilter everything;
  everything.with_deleted = true;
  everything.include_hidden = true;
  EXPECT_EQ(find("beach", everything), (std::vector<std::int64_t>{1, 3, 4, 5}));
  // Query syntax is never interpreted: no errors, no operator effects.
  EXPECT_TRUE(find(R"(beach" OR "cafe)").empty());
  EXPECT_TRUE(find("NEAR(beach sunset)").empty());
  EXPECT_TRUE(find("beach*").size() <= 2u);
  EXPECT_EQ(find("-beach"), (std::vector<std::int64_t>{1, 3}));
  EXPECT_TRUE(find("title:beach").empty());

  // No words: the filters alone list assets, newest first.
  KeywordSearchRequest empty;
  empty.query = "  ";
  auto listed = keywords.search(empty);
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_FALSE(listed->items.empty());
  empty.filter.make = "Nikon";
  auto nikon = keywords.search(empty);
  ASSERT_TRUE(nikon);
  EXPECT_LT(nikon->items.size(), listed->items.size());

  // Pagination: best match first, then newest.
  KeywordSearchRequest paged;
  paged.query = "beach";
  paged.size = 1;
  auto first = keywords.search(paged);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->items.size(), 1u);
  EXPECT_EQ(first->next_page, 2);
  paged.page = 2;
  auto second = keywords.search(paged);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->items.size(), 1u);
  EXPECT_NE(second->items[0].asset_id, first->items[0].asset_id);
  EXPECT_EQ(second->next_page, std::nullopt);

  // Kept in sync: a metadata change re-indexes one asset.
  ASSERT_TRUE(db_->write([](store::Connection& c) {
                   return c.exec("UPDATE asset_exif SET description = 'Mountain lake' WHERE asset_id = 1");
                 })
                  .ok());
  ASSERT_TRUE(keywords.index_asset(1).ok());
  EXPECT_EQ(find("beach"), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(find("mountain"), (std::vector<std::int64_t>{1}));
  ASSERT_TRUE(keywords.remove(3).ok());
  EXPECT_TRUE(find("volley").empty());
}

TEST_P(SearchTest, KeywordIndexFollowsMetadataExtraction) {
  add({.id = 1, .file_name = "harbour.jpg", .preview = ""});
  KeywordSearch keywords(*db_);
  auto queue = jobs::JobQueue::open(*db_);
  ASSERT_TRUE(queue.ok());
  keywords.register_jobs(**queue);
  // Stand-in for the library's handler: the hook runs after any successful AssetExtractMetadata.
  (*queue)->register_handler(
      jobs::job::kAssetExtractMetadata, jobs::queue::kMetadataExtraction,
      [](const jobs::Job&) -> Expected<jobs::JobOutcome> { return jobs::JobOutcome::kSuccess; });
  jobs::JobRequest request;
  request.name = jobs::job::kAssetExtractMetadata;
  request.data = {{"id", 1}};
  ASSERT_TRUE((*queue)->enqueue(request).ok());
  jobs::DrainOptions drain;
  drain.queues = {"metadataExtraction"};
  ASSERT_TRUE((*queue)->run_until_idle(drain).ok());
  KeywordSearchRequest search;
  search.query = "harb";
  auto page = keywords.search(search);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].asset_id, 1);
}

// The saved index file belongs to the in-memory index only.
INSTANTIATE_TEST_SUITE_P(Engines, SearchTest, test_support::backends(), test_support::backend_name);
INSTANTIATE_TEST_SUITE_P(Engines, SavedIndexTest,
                         ::testing::Values(Backend{store::Engine::kSqlite},
                                           Backend{store::Engine::kPostgres}),
                         test_support::backend_name);

}  // namespace
}  // namespace focal::search
