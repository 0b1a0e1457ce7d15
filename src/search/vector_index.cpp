// SPDX-License-Identifier: AGPL-3.0-or-later
// The shared kernels, the adaptive (exact, then HNSW) index, and the public functions: factories, save, load.
#include "search/vector_index.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <system_error>

#include "core/storage.h"
#include "search/index_file.h"
#include "search/vector_index_internal.h"

namespace focal::search {
namespace detail {

// --- kernels ---

// Four independent 4-lane accumulators (GCC vector extensions: SSE everywhere, AVX2 in the avx2 clone) so the
// reduction vectorises without -ffast-math.
using Lanes = float __attribute__((vector_size(16)));

[[gnu::target_clones("avx2", "default")]] float dot(const float* a, const float* b, std::size_t n) {
  Lanes acc0{};
  Lanes acc1{};
  Lanes acc2{};
  Lanes acc3{};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    Lanes a0, a1, a2, a3, b0, b1, b2, b3;
    std::memcpy(&a0, a + i, sizeof(Lanes));
    std::memcpy(&a1, a + i + 4, sizeof(Lanes));
    std::memcpy(&a2, a + i + 8, sizeof(Lanes));
    std::memcpy(&a3, a + i + 12, sizeof(Lanes));
    std::memcpy(&b0, b + i, sizeof(Lanes));
    std::memcpy(&b1, b + i + 4, sizeof(Lanes));
    std::memcpy(&b2, b + i + 8, sizeof(Lanes));
    std::memcpy(&b3, b + i + 12, sizeof(Lanes));
    acc0 += a0 * b0;
    acc1 += a1 * b1;
    acc2 += a2 * b2;
    acc3 += a3 * b3;
  }
  const Lanes sum = (acc0 + acc1) + (acc2 + acc3);
  float total = (sum[0] + sum[1]) + (sum[2] + sum[3]);
  for (; i < n; ++i) total += a[i] * b[i];
  return total;
}

namespace {

Status check_dimension(std::size_t expected, std::size_t got, const char* what) {
  if (expected == got) return {};
  return bad_request(std::string(what) + " has dimension " + std::to_string(got) + ", the index expects " +
                     std::to_string(expected));
}

}  // namespace

Expected<std::vector<float>> normalized_copy(std::span<const float> vector, std::size_t dimension,
                                             const char* what) {
  if (Status ok = check_dimension(dimension, vector.size(), what); !ok) return ok.error();
  std::vector<float> copy(vector.begin(), vector.end());
  if (!normalize(copy)) return bad_request(std::string(what) + " is zero or not finite");
  return copy;
}

Expected<std::vector<float>> normalized_rows(std::span<const VectorId> ids, std::span<const float> rows,
                                             std::size_t dimension) {
  if (rows.size() != ids.size() * dimension)
    return bad_request("upsert_many: " + std::to_string(rows.size()) + " floats for " +
                       std::to_string(ids.size()) + " vectors of dimension " + std::to_string(dimension));
  std::vector<float> normalized(rows.begin(), rows.end());
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (!normalize(std::span<float>(&normalized[i * dimension], dimension)))
      return bad_request("vector " + std::to_string(ids[i]) + " is zero or not finite");
  return normalized;
}

}  // namespace detail

namespace {

using detail::dot;
using detail::ExactIndex;
using detail::FileHeader;
using detail::HnswIndex;
using detail::IndexFileReader;
using detail::IndexFileWriter;
using detail::kDigestBytes;
using detail::kFileFormatVersion;
using detail::kFileMagic;
using detail::kMaxElements;
using detail::kMaxFingerprintBytes;
using detail::kMaxM;
using detail::kMaxModelBytes;
using detail::level0_bytes;
using detail::upper_level_bytes;

// --- AdaptiveIndex ---

class AdaptiveIndex final : public VectorIndex {
 public:
  explicit AdaptiveIndex(const IndexOptions& options)
      : options_(options), exact_(detail::make_exact(options.dimension)) {}
  AdaptiveIndex(const IndexOptions& options, std::unique_ptr<HnswIndex> hnsw)
      : options_(options), hnsw_(std::move(hnsw)) {}

  bool uses_hnsw() const {
    std::shared_lock lock(mutex_);
    return hnsw_ != nullptr;
  }
  Status write_to(IndexFileWriter& out, const IndexFileMeta& meta) const {
    std::shared_lock lock(mutex_);
    if (!hnsw_) return bad_request("the index is exact; only HNSW indexes are saved");
    return hnsw_->write_to(out, meta);
  }

  std::size_t dimension() const override { return options_.dimension; }
  std::size_t size() const override {
    std::shared_lock lock(mutex_);
    return active()->size();
  }
  Status upsert(VectorId id, std::span<const float> vector) override {
    std::unique_lock lock(mutex_);
    if (Status ok = active()->upsert(id, vector); !ok) return ok;
    if (exact_ && exact_->size() >= options_.exact_threshold) switch_to_hnsw();
    return {};
  }
  Status upsert_many(std::span<const VectorId> ids, std::span<const float> rows) override {
    std::unique_lock lock(mutex_);
    if (exact_ && exact_->size() + ids.size() >= options_.exact_threshold) switch_to_hnsw();
    if (Status ok = active()->upsert_many(ids, rows); !ok) return ok;
    if (exact_ && exact_->size() >= options_.exact_threshold) switch_to_hnsw();
    return {};
  }
  bool remove(VectorId id) override {
    std::unique_lock lock(mutex_);
    const bool removed = active()->remove(id);
    if (hnsw_ && hnsw_->size() < options_.exact_threshold / 2) switch_to_exact();
    return removed;
  }
  bool contains(VectorId id) const override {
    std::shared_lock lock(mutex_);
    return active()->contains(id);
  }
  std::optional<std::vector<float>> get(VectorId id) const override {
    std::shared_lock lock(mutex_);
    return active()->get(id);
  }
  void clear() override {
    std::unique_lock lock(mutex_);
    hnsw_.reset();
    exact_ = detail::make_exact(options_.dimension);
  }
  Expected<std::vector<Neighbor>> search(std::span<const float> query, std::size_t k,
                                         const SearchFilter& filter) const override {
    std::shared_lock lock(mutex_);
    return active()->search(query, k, filter);
  }

 private:
  const VectorIndex* active() const {
    return exact_ ? static_cast<const VectorIndex*>(exact_.get())
                  : static_cast<const VectorIndex*>(hnsw_.get());
  }
  VectorIndex* active() {
    return exact_ ? static_cast<VectorIndex*>(exact_.get()) : static_cast<VectorIndex*>(hnsw_.get());
  }

  void switch_to_hnsw() {
    std::vector<VectorId> ids;
    std::vector<float> rows;
    exact_->for_each([&](VectorId id, const float* row) {
      ids.push_back(id);
      rows.insert(rows.end(), row, row + options_.dimension);
    });
    auto hnsw = detail::make_hnsw(options_.dimension, options_.hnsw, ids.size() * 2);
    if (Status ok = hnsw->insert_many(ids, rows.data()); !ok) return;  // stay exact; still correct
    hnsw_ = std::move(hnsw);
    exact_.reset();
  }

  void switch_to_exact() {
    auto exact = detail::make_exact(options_.dimension);
    hnsw_->for_each([&](VectorId id, const float* row) { exact->insert_normalized(id, row); });
    exact_ = std::move(exact);
    hnsw_.reset();
  }

  IndexOptions options_;
  mutable std::shared_mutex mutex_;
  std::unique_ptr<ExactIndex> exact_;
  std::unique_ptr<HnswIndex> hnsw_;
};

}  // namespace

bool normalize(std::span<float> vector) {
  double sum = 0;
  for (float v : vector) {
    if (!std::isfinite(v)) return false;
    sum += static_cast<double>(v) * v;
  }
  if (!(sum > 0) || !std::isfinite(sum)) return false;
  const auto inverse = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& v : vector) v *= inverse;
  return true;
}

float cosine_distance(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size()) return 1.0f;
  const double na = dot(a.data(), a.data(), a.size());
  const double nb = dot(b.data(), b.data(), b.size());
  if (!(na > 0) || !(nb > 0)) return 1.0f;
  return static_cast<float>(1.0 - dot(a.data(), b.data(), a.size()) / std::sqrt(na * nb));
}

std::unique_ptr<VectorIndex> make_exact_index(std::size_t dimension) { return detail::make_exact(dimension); }

std::unique_ptr<VectorIndex> make_hnsw_index(std::size_t dimension, const HnswParams& params,
                                             std::size_t initial_capacity) {
  return detail::make_hnsw(dimension, params, initial_capacity);
}

std::unique_ptr<VectorIndex> make_index(const IndexOptions& options) {
  return std::make_unique<AdaptiveIndex>(options);
}

bool persistable(const VectorIndex& index) {
  if (const auto* adaptive = dynamic_cast<const AdaptiveIndex*>(&index)) return adaptive->uses_hnsw();
  return dynamic_cast<const HnswIndex*>(&index) != nullptr;
}

Status save_index(const VectorIndex& index, const std::filesystem::path& path, const IndexFileMeta& meta) {
  if (!persistable(index)) return bad_request("Saving " + path.string() + ": only HNSW indexes are saved");
  if (meta.model.size() > kMaxModelBytes || meta.fingerprint.size() > kMaxFingerprintBytes)
    return bad_request("Saving " + path.string() + ": model name or fingerprint too long");
  // A unique temporary name beside the target: rename is atomic within a file system, and a crash leaves at
  // worst a stray temporary, never a half-written index under the real name.
  std::random_device random;
  const std::filesystem::path temporary =
      path.string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(random());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return storage_error("Creating " + temporary.string(), std::error_code(errno, std::generic_category()),
                         temporary);
  Status written = [&]() -> Status {
    IndexFileWriter out(fd, temporary);
    const auto* adaptive = dynamic_cast<const AdaptiveIndex*>(&index);
    Status graph = adaptive != nullptr ? adaptive->write_to(out, meta)
                                       : dynamic_cast<const HnswIndex&>(index).write_to(out, meta);
    if (!graph) return graph;
    return out.finish();
  }();
  std::error_code ec;
  if (written) std::filesystem::rename(temporary, path, ec);
  if (!written || ec) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    if (!written) return written;
    return storage_error("Renaming " + temporary.string() + " to " + path.string(), ec, path);
  }
  // The rename itself is durable only once the folder is synced.
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : ".";
  if (const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    const int synced = ::fsync(dir);
    const int error = errno;
    ::close(dir);
    if (synced != 0)
      return storage_error("Syncing " + folder.string(), std::error_code(error, std::generic_category()),
                           folder);
  }
  return {};
}

Expected<LoadedIndex> load_index(const std::filesystem::path& path, const IndexOptions& options) {
  auto fail = [&](const Error& error) {
    return Error{error.kind, "Index file " + path.string() + ": " + error.message};
  };
  std::error_code ec;
  const auto file_bytes = std::filesystem::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory)
      return not_found("Index file " + path.string() + " not found");
    return fail(internal_error(ec.message()));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(internal_error("cannot open"));
  if (file_bytes < sizeof(FileHeader) + sizeof(std::uint64_t) + kDigestBytes)
    return fail(bad_request("truncated: " + std::to_string(file_bytes) + " bytes"));
  IndexFileReader reader(in, file_bytes - kDigestBytes);

  FileHeader header;
  if (Status ok = reader.read_pod(header, "header"); !ok) return fail(ok.error());
  if (header.magic != kFileMagic) return fail(bad_request("not a focal vector index (wrong magic)"));
  if (header.version != kFileFormatVersion)
    return fail(bad_request("format version " + std::to_string(header.version) + ", this build reads " +
                            std::to_string(kFileFormatVersion)));
  if (header.flags != 0) return fail(bad_request("unknown flags"));
  if (header.dimension != options.dimension)
    return fail(bad_request("dimension " + std::to_string(header.dimension) + ", expected " +
                            std::to_string(options.dimension)));
  if (header.m != options.hnsw.m)
    return fail(bad_request("built with M=" + std::to_string(header.m) +
                            ", configured M=" + std::to_string(options.hnsw.m)));
  if (header.m < 2 || header.m > kMaxM ||
      header.size_data_per_element != level0_bytes(header.m, header.dimension) ||
      header.size_links_per_element != upper_level_bytes(header.m))
    return fail(bad_request("graph layout differs from this build's hnswlib"));
  // Bounds every allocation below by the file's size.
  if (header.live > header.elements || header.elements > reader.remaining() / header.size_data_per_element ||
      header.elements > kMaxElements)
    return fail(bad_request("truncated or inconsistent: " + std::to_string(header.elements) +
                            " elements in " + std::to_string(file_bytes) + " bytes"));
  if (header.model_bytes > kMaxModelBytes) return fail(bad_request("model name too long"));

  LoadedIndex loaded;
  loaded.meta.model.resize(header.model_bytes);
  if (Status ok = reader.read(loaded.meta.model.data(), header.model_bytes, "model name"); !ok)
    return fail(ok.error());
  std::uint64_t fingerprint_bytes = 0;
  if (Status ok = reader.read_pod(fingerprint_bytes, "fingerprint size"); !ok) return fail(ok.error());
  if (fingerprint_bytes > std::min(kMaxFingerprintBytes, reader.remaining()))
    return fail(bad_request("truncated: fingerprint of " + std::to_string(fingerprint_bytes) + " bytes"));
  loaded.meta.fingerprint.resize(static_cast<std::size_t>(fingerprint_bytes));
  if (Status ok = reader.read(loaded.meta.fingerprint.data(), fingerprint_bytes, "fingerprint"); !ok)
    return fail(ok.error());

  auto hnsw = detail::make_hnsw(options.dimension, options.hnsw, 16);
  if (Status ok = hnsw->read_from(reader, header); !ok) {
    if (ok.error().kind == ErrorKind::kBadRequest)
      if (Status digest = reader.verify_rest(); !digest) return fail(digest.error());
    return fail(ok.error());
  }
  loaded.index = std::make_unique<AdaptiveIndex>(options, std::move(hnsw));
  return loaded;
}

}  // namespace focal::search
