// SPDX-License-Identifier: AGPL-3.0-or-later
#include "search/vector_index.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

namespace focal::search {
namespace {

std::vector<float> random_matrix(std::size_t rows, std::size_t dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> out(rows * dim);
  for (auto& v : out) v = normal(rng);
  return out;
}

IndexOptions adaptive(std::size_t dim, std::size_t threshold) {
  IndexOptions options;
  options.dimension = dim;
  options.exact_threshold = threshold;
  return options;
}

SearchFilter filter_of(const std::unordered_set<VectorId>* allowed,
                       std::function<bool(VectorId)> accept = {}) {
  SearchFilter filter;
  filter.allowed = allowed;
  filter.accept = std::move(accept);
  return filter;
}

HnswParams hnsw_params(std::size_t m, std::size_t ef_construction, std::size_t ef_search) {
  HnswParams params;
  params.m = m;
  params.ef_construction = ef_construction;
  params.ef_search = ef_search;
  return params;
}

std::span<const float> row(const std::vector<float>& m, std::size_t i, std::size_t dim) {
  return std::span<const float>(m).subspan(i * dim, dim);
}

// Brute force in double precision, independent of the index code.
std::vector<Neighbor> reference_knn(const std::vector<float>& m, const std::vector<VectorId>& ids,
                                    std::size_t dim, std::span<const float> query, std::size_t k,
                                    const std::function<bool(VectorId)>& keep = {}) {
  std::vector<Neighbor> all;
  double qn = 0;
  for (float v : query) qn += double(v) * v;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (keep && !keep(ids[i])) continue;
    double d = 0, n = 0;
    for (std::size_t j = 0; j < dim; ++j) {
      d += double(m[i * dim + j]) * query[j];
      n += double(m[i * dim + j]) * m[i * dim + j];
    }
    all.push_back({ids[i], static_cast<float>(1.0 - d / std::sqrt(n * qn))});
  }
  std::sort(all.begin(), all.end(), [](const Neighbor& a, const Neighbor& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
  });
  if (all.size() > k) all.resize(k);
  return all;
}

TEST(VectorIndexTest, ExactMatchesBruteForce) {
  constexpr std::size_t kDim = 72;  // not a multiple of 16: exercises the scalar tail
  constexpr std::size_t kRows = 2000;
  const auto data = random_matrix(kRows, kDim, 1);
  const auto queries = random_matrix(20, kDim, 2);
  std::vector<VectorId> ids(kRows);
  for (std::size_t i = 0; i < kRows; ++i) ids[i] = static_cast<VectorId>(i * 7 + 3);
  auto index = make_exact_index(kDim);
  for (std::size_t i = 0; i < kRows; ++i) ASSERT_TRUE(index->upsert(ids[i], row(data, i, kDim)).ok());
  EXPECT_EQ(index->size(), kRows);
  for (std::size_t q = 0; q < 20; ++q) {
    auto got = index->search(row(queries, q, kDim), 10);
    ASSERT_TRUE(got.ok());
    const auto want = reference_knn(data, ids, kDim, row(queries, q, kDim), 10);
    ASSERT_EQ(got->size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ((*got)[i].id, want[i].id) << "query " << q << " rank " << i;
      EXPECT_NEAR((*got)[i].distance, want[i].distance, 1e-5);
    }
  }
  // k larger than the index returns everything, sorted.
  auto all = index->search(row(queries, 0, kDim), kRows + 5);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), kRows);
  EXPECT_TRUE(std::is_sorted(all->begin(), all->end(),
                             [](const Neighbor& a, const Neighbor& b) { return a.distance < b.distance; }));
}

TEST(VectorIndexTest, CosineDistanceIgnoresScale) {
  auto index = make_exact_index(3);
  ASSERT_TRUE(index->upsert(1, std::vector<float>{10, 0, 0}).ok());
  ASSERT_TRUE(index->upsert(2, std::vector<float>{0, 0.5f, 0}).ok());
  ASSERT_TRUE(index->upsert(3, std::vector<float>{-2, 0, 0}).ok());
  auto got = index->search(std::vector<float>{1, 0, 0}, 3);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0], (Neighbor{1, 0.0f}));
  EXPECT_EQ((*got)[1].id, 2);
  EXPECT_NEAR((*got)[1].distance, 1.0f, 1e-6);
  EXPECT_EQ((*got)[2].id, 3);
  EXPECT_NEAR((*got)[2].distance, 2.0f, 1e-6);
  EXPECT_NEAR(cosine_distance(std::vector<float>{1, 1}, std::vector<float>{2, 2}), 0.0f, 1e-6);
  auto stored = index->get(1);
  ASSERT_TRUE(stored.has_value());
  EXPECT_NEAR((*stored)[0], 1.0f, 1e-6);  // normalized
}

void check_errors(VectorIndex& index) {
  auto bad_upsert = index.upsert(1, std::vector<float>(5, 1.0f));
  ASSERT_FALSE(bad_upsert.ok());
  EXPECT_EQ(bad_upsert.error().kind, ErrorKind::kBadRequest);
  EXPECT_NE(bad_upsert.error().message.find("dimension 5"), std::string::npos) << bad_upsert.error().message;
  EXPECT_FALSE(index.upsert(1, std::vector<float>(4, 0.0f)).ok());  // zero vector
  EXPECT_FALSE(index.upsert(1, std::vector<float>{1, 2, NAN, 4}).ok());
  auto bad_search = index.search(std::vector<float>(3, 1.0f), 5);
  ASSERT_FALSE(bad_search.ok());
  EXPECT_EQ(bad_search.error().kind, ErrorKind::kBadRequest);
  EXPECT_EQ(index.size(), 0u);
  auto empty = index.search(std::vector<float>(4, 1.0f), 5);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_FALSE(index.upsert_many(std::vector<VectorId>{1, 2}, std::vector<float>(7, 1.0f)).ok());
}

TEST(VectorIndexTest, DimensionAndValueErrors) {
  check_errors(*make_exact_index(4));
  check_errors(*make_hnsw_index(4));
  check_errors(*make_index(adaptive(4, 10)));
}

void check_updates_and_deletes(VectorIndex& index) {
  constexpr std::size_t kDim = 16;
  const auto data = random_matrix(300, kDim, 5);
  std::vector<VectorId> ids(300);
  for (std::size_t i = 0; i < 300; ++i) ids[i] = static_cast<VectorId>(i + 1);
  ASSERT_TRUE(index.upsert_many(ids, data).ok());
  EXPECT_EQ(index.size(), 300u);
  // Remove every third id: none of them may come back.
  for (VectorId id = 3; id <= 300; id += 3) EXPECT_TRUE(index.remove(id));
  EXPECT_FALSE(index.remove(3));
  EXPECT_EQ(index.size(), 200u);
  for (std::size_t q = 0; q < 300; q += 17) {
    auto got = index.search(row(data, q, kDim), 20);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->size(), 20u);
    for (const auto& n : *got) EXPECT_NE(n.id % 3, 0) << n.id;
  }
  EXPECT_FALSE(index.contains(3));
  EXPECT_TRUE(index.contains(4));
  // Re-adding a deleted id and replacing a live one.
  ASSERT_TRUE(index.upsert(3, row(data, 10, kDim)).ok());
  ASSERT_TRUE(index.upsert(4, row(data, 10, kDim)).ok());
  EXPECT_EQ(index.size(), 201u);
  auto got = index.search(row(data, 10, kDim), 3);
  ASSERT_TRUE(got.ok());
  std::set<VectorId> top3;
  for (const auto& n : *got) top3.insert(n.id);
  EXPECT_EQ(top3, (std::set<VectorId>{3, 4, 11}));
  for (const auto& n : *got) EXPECT_NEAR(n.distance, 0.0f, 1e-5);
  index.clear();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_FALSE(index.contains(4));
}

TEST(VectorIndexTest, UpdatesAndDeletesExact) { check_updates_and_deletes(*make_exact_index(16)); }
TEST(VectorIndexTest, UpdatesAndDeletesHnsw) { check_updates_and_deletes(*make_hnsw_index(16)); }
TEST(VectorIndexTest, UpdatesAndDeletesAdaptive) {
  // Threshold 250: starts exact, switches to HNSW on the bulk load, back to exact after the deletes.
  check_updates_and_deletes(*make_index(adaptive(16, 250)));
}

void check_filters(VectorIndex& index, std::size_t rows) {
  const std::size_t dim = index.dimension();
  const auto data = random_matrix(rows, dim, 9);
  std::vector<VectorId> ids(rows);
  for (std::size_t i = 0; i < rows; ++i) ids[i] = static_cast<VectorId>(i);
  ASSERT_TRUE(index.upsert_many(ids, data).ok());
  const auto query = random_matrix(1, dim, 10);

  // A small allowed set (exact path) and a predicate (graph path for HNSW).
  std::unordered_set<VectorId> allowed;
  for (VectorId id = 0; id < static_cast<VectorId>(rows); id += 50) allowed.insert(id);
  auto got = index.search(query, 5, filter_of(&allowed));
  ASSERT_TRUE(got.ok());
  const auto want =
      reference_knn(data, ids, dim, query, 5, [&](VectorId id) { return allowed.contains(id); });
  ASSERT_EQ(got->size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ((*got)[i].id, want[i].id);

  auto even = index.search(query, 10, filter_of(nullptr, [](VectorId id) { return id % 2 == 0; }));
  ASSERT_TRUE(even.ok());
  EXPECT_EQ(even->size(), 10u);
  for (const auto& n : *even) EXPECT_EQ(n.id % 2, 0);

  // Both parts: the intersection.
  auto both = index.search(query, 100, filter_of(&allowed, [](VectorId id) { return id % 100 == 0; }));
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->size(), (rows + 99) / 100);
  for (const auto& n : *both) EXPECT_EQ(n.id % 100, 0);

  // A filter that keeps almost nothing still finds what there is.
  auto one = index.search(query, 10, filter_of(nullptr, [](VectorId id) { return id == 7; }));
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].id, 7);
}

TEST(VectorIndexTest, FiltersExact) { check_filters(*make_exact_index(32), 3000); }
TEST(VectorIndexTest, FiltersHnsw) { check_filters(*make_hnsw_index(32, hnsw_params(16, 32, 64)), 3000); }

TEST(VectorIndexTest, HnswRecallAtTenOnTenThousandVectors) {
  // Isotropic random vectors are the hard case for HNSW (real embeddings cluster); small dimension keeps the
  // build fast under sanitizers.
  constexpr std::size_t kDim = 32;
  constexpr std::size_t kRows = 10000;
  constexpr std::size_t kQueries = 100;
  const auto data = random_matrix(kRows, kDim, 21);
  const auto queries = random_matrix(kQueries, kDim, 22);
  std::vector<VectorId> ids(kRows);
  for (std::size_t i = 0; i < kRows; ++i) ids[i] = static_cast<VectorId>(i);
  auto exact = make_exact_index(kDim);
  auto hnsw = make_hnsw_index(kDim, hnsw_params(16, 32, 200));
  ASSERT_TRUE(exact->upsert_many(ids, data).ok());
  ASSERT_TRUE(hnsw->upsert_many(ids, data).ok());
  ASSERT_EQ(hnsw->size(), kRows);
  std::size_t hits = 0;
  for (std::size_t q = 0; q < kQueries; ++q) {
    auto truth = exact->search(row(queries, q, kDim), 10);
    auto approx = hnsw->search(row(queries, q, kDim), 10);
    ASSERT_TRUE(truth.ok() && approx.ok());
    std::set<VectorId> want;
    for (const auto& n : *truth) want.insert(n.id);
    for (const auto& n : *approx) hits += want.count(n.id);
  }
  const double recall = static_cast<double>(hits) / (kQueries * 10);
  RecordProperty("recall_at_10", std::to_string(recall));
  std::printf("HNSW recall@10 on %zu random %zu-d vectors: %.3f\n", kRows, kDim, recall);
  EXPECT_GE(recall, 0.95);
}

TEST(VectorIndexTest, ConcurrentSearchesDuringUpdates) {
  auto index = make_index(adaptive(16, 200));
  const auto data = random_matrix(400, 16, 31);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (std::size_t i = 0; i < 400; ++i)
      ASSERT_TRUE(index->upsert(static_cast<VectorId>(i), row(data, i, 16)).ok());
    for (VectorId id = 0; id < 400; id += 2) index->remove(id);
    done = true;
  });
  std::size_t searches = 0;
  while (!done) {
    auto got = index->search(row(data, searches % 400, 16), 5);
    ASSERT_TRUE(got.ok());
    ++searches;
  }
  writer.join();
  EXPECT_EQ(index->size(), 200u);
}

// --- saved HNSW indexes ---

class IndexFileTest : public ::testing::Test {
 protected:
  static constexpr std::size_t kDim = 24;
  static constexpr std::size_t kRows = 300;

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("focal-index-file-test-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    options_ = adaptive(kDim, 50);  // HNSW from 50 vectors on
    options_.hnsw.ef_construction = 64;
    data_ = random_matrix(kRows, kDim, 17);
    index_ = make_index(options_);
    std::vector<VectorId> ids(kRows);
    for (std::size_t i = 0; i < kRows; ++i) ids[i] = static_cast<VectorId>(1000 + i);
    ASSERT_TRUE(index_->upsert_many(ids, data_).ok());
    for (VectorId id = 1000; id < 1030; ++id) index_->remove(id);  // tombstones travel too
    ASSERT_TRUE(persistable(*index_));
    ASSERT_TRUE(save_index(*index_, file(), meta_).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path file() const { return dir_ / "index.hnsw"; }
  std::string bytes() const {
    std::string out(std::filesystem::file_size(file()), '\0');
    std::ifstream(file(), std::ios::binary).read(out.data(), static_cast<std::streamsize>(out.size()));
    return out;
  }
  void write(const std::string& content) const {
    std::ofstream(file(), std::ios::binary | std::ios::trunc) << content;
  }
  // load_index must refuse the file with a reason containing `reason`.
  void expect_rejected(const std::string& reason, const IndexOptions& options) const {
    auto loaded = load_index(file(), options);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().kind, ErrorKind::kBadRequest);
    EXPECT_NE(loaded.error().message.find(reason), std::string::npos) << loaded.error().message;
  }
  void expect_rejected(const std::string& reason) const { expect_rejected(reason, options_); }

  std::filesystem::path dir_;
  IndexOptions options_;
  std::vector<float> data_;
  std::unique_ptr<VectorIndex> index_;
  IndexFileMeta meta_{"ViT-B-32__openai", std::string("fp\0rint", 7)};
};

TEST_F(IndexFileTest, RoundTripGivesIdenticalResults) {
  auto loaded = load_index(file(), options_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->meta.model, meta_.model);
  EXPECT_EQ(loaded->meta.fingerprint, meta_.fingerprint);
  VectorIndex& copy = *loaded->index;
  EXPECT_TRUE(persistable(copy));
  EXPECT_EQ(copy.size(), index_->size());
  EXPECT_FALSE(copy.contains(1000));
  EXPECT_EQ(copy.get(1100), index_->get(1100));
  const auto queries = random_matrix(20, kDim, 99);
  std::unordered_set<VectorId> allowed{1040, 1050, 1060, 1200};
  for (std::size_t q = 0; q < 20; ++q) {
    EXPECT_EQ(*copy.search(row(queries, q, kDim), 10), *index_->search(row(queries, q, kDim), 10));
    EXPECT_EQ(*copy.search(row(queries, q, kDim), 3, filter_of(&allowed)),
              *index_->search(row(queries, q, kDim), 3, filter_of(&allowed)));
  }
  // The loaded index keeps working as a live one.
  ASSERT_TRUE(copy.upsert(5, row(queries, 0, kDim)).ok());
  EXPECT_EQ(copy.search(row(queries, 0, kDim), 1)->front().id, 5);
  EXPECT_TRUE(copy.remove(1100));
  EXPECT_FALSE(copy.contains(1100));
  // A second save of the loaded index is byte-identical but for the added vector: it loads again.
  ASSERT_TRUE(save_index(copy, file(), meta_).ok());
  auto again = load_index(file(), options_);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->index->size(), copy.size());
}

TEST_F(IndexFileTest, DamagedFilesAreRejected) {
  const std::string good = bytes();
  ASSERT_GT(good.size(), kRows * kDim * sizeof(float));

  write(good.substr(0, good.size() / 2));
  expect_rejected("truncated");
  write(good.substr(0, good.size() - 1));
  expect_rejected("");  // the digest no longer lines up
  write(good.substr(0, 10));
  expect_rejected("truncated");
  write("");
  expect_rejected("truncated");
  write(good + "x");
  expect_rejected("checksum");

  for (const std::size_t at : {good.size() / 3, good.size() / 2, good.size() - 40, good.size() - 1}) {
    std::string flipped = good;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x20);
    write(flipped);
    expect_rejected("checksum");
  }

  std::string magic = good;
  magic[0] = 'X';
  write(magic);
  expect_rejected("magic");

  std::string version = good;
  version[8] = 2;  // format version (u32 after the 8-byte magic)
  write(version);
  expect_rejected("format version 2");

  std::string dimension = good;
  dimension[16] = 48;  // dimension (u64 at 16)
  write(dimension);
  expect_rejected("dimension 48");

  write(good);
  expect_rejected("dimension 24, expected 32", adaptive(32, 50));
  IndexOptions other_m = options_;
  other_m.hnsw.m = 8;
  expect_rejected("M=16", other_m);
  EXPECT_TRUE(load_index(file(), options_).ok());
}

// A forger can recompute the digest (focal_vector_index links OpenSSL, so the test binary does too): the
// graph itself must still be checked before hnswlib walks it.
TEST_F(IndexFileTest, ForgedGraphsWithAValidChecksumAreRejected) {
  const std::string good = bytes();
  auto forge = [&](std::size_t at, const std::string& value) {
    std::string forged = good;
    forged.replace(at, value.size(), value);
    unsigned int length = 0;
    EVP_Digest(forged.data(), forged.size() - 32,
               reinterpret_cast<unsigned char*>(&forged[forged.size() - 32]), &length, EVP_sha256(), nullptr);
    write(forged);
  };
  // Payload starts after the 80-byte header, the model, the u64 fingerprint size and the fingerprint.
  const std::size_t level0 = 80 + meta_.model.size() + 8 + meta_.fingerprint.size();
  const std::size_t element = 2 * 16 * 4 + 4 + kDim * sizeof(float) + 8;
  const std::uint32_t far_away = 1'000'000;
  forge(level0 + 4, std::string(reinterpret_cast<const char*>(&far_away), 4));  // element 0's first link
  expect_rejected("missing node");
  forge(level0, std::string("\xff\x7f", 2));  // element 0 claims 32767 links
  expect_rejected("too many links");
  const float big = 3.0f;
  forge(level0 + 2 * 16 * 4 + 4, std::string(reinterpret_cast<const char*>(&big), 4));  // element 0's vector
  expect_rejected("not normalized");
  std::string label(8, '\0');
  std::memcpy(label.data(), good.data() + level0 + element + element - 8, 8);  // element 1's id on element 0
  forge(level0 + element - 8, label);
  expect_rejected("duplicate id");
  write(good);
  EXPECT_TRUE(load_index(file(), options_).ok());
}

TEST_F(IndexFileTest, MissingFileAndExactIndexes) {
  auto missing = load_index(dir_ / "absent.hnsw", options_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);

  auto exact = make_index(adaptive(kDim, 1000));
  ASSERT_TRUE(exact->upsert(1, row(data_, 0, kDim)).ok());
  EXPECT_FALSE(persistable(*exact));
  EXPECT_FALSE(save_index(*exact, dir_ / "exact.hnsw", meta_).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "exact.hnsw"));
  // No temporary is left beside the target.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1u);
}

}  // namespace
}  // namespace focal::search
