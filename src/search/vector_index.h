// SPDX-License-Identifier: AGPL-3.0-or-later
// In-memory k-nearest-neighbour indexes over float32 embeddings, cosine distance (1 − cos), used by smart
// search (CLIP) and by people (face clustering). Vectors are L2-normalized on insert, so cosine distance is 1
// − dot.
//
// The indexes are caches: the store (SQLite) holds the embeddings; an index is rebuilt from it at start-up
// (or, for HNSW, read back from a file written by save_index) and updated on every upsert/delete. All implementations are thread-safe (many concurrent searches, one
// writer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/error.h"

namespace focal::search {

using VectorId = std::int64_t;

struct Neighbor {
  VectorId id = 0;
  float distance = 0;  // cosine distance, 0 (same direction) .. 2 (opposite)
  bool operator==(const Neighbor&) const = default;
};

// Restricts a search. Both parts optional; when both are set an id must pass both.
struct SearchFilter {
  // Only these ids (e.g. the assets that pass SQL filters, or a person's assets). A small set is searched
  // exactly.
  const std::unordered_set<VectorId>* allowed = nullptr;
  // Arbitrary predicate (called from the searching thread; must be cheap and thread-safe).
  std::function<bool(VectorId)> accept;
  bool empty() const { return allowed == nullptr && !accept; }
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;
  virtual std::size_t dimension() const = 0;
  virtual std::size_t size() const = 0;
  // Inserts or replaces. kBadRequest when the vector's size is not dimension() or it is all zeros/non-finite.
  virtual Status upsert(VectorId id, std::span<const float> vector) = 0;
  // Bulk load: `rows` holds ids.size() vectors back to back (HNSW inserts in parallel). Stops at the first
  // bad vector.
  virtual Status upsert_many(std::span<const VectorId> ids, std::span<const float> rows);
  // Returns whether the id was present.
  virtual bool remove(VectorId id) = 0;
  virtual bool contains(VectorId id) const = 0;
  // The stored (normalized) vector.
  virtual std::optional<std::vector<float>> get(VectorId id) const = 0;
  virtual void clear() = 0;
  // The k nearest (ascending distance, ties by id) among ids passing `filter`. kBadRequest on a dimension
  // mismatch. Approximate for HnswIndex (exact when the allowed set is small).
  virtual Expected<std::vector<Neighbor>> search(std::span<const float> query, std::size_t k,
                                                 const SearchFilter& filter = {}) const = 0;
};

struct HnswParams {
  std::size_t m = 16;
  std::size_t ef_construction = 200;
  std::size_t ef_search = 200;  // raised to k per query when k is larger (recall@10 ≈ 0.99 on random data)
  std::size_t seed = 100;
};

struct IndexOptions {
  std::size_t dimension = 512;
  // Below this many vectors an exact scan is used; above, HNSW (see docs/search.md for the measured
  // crossover).
  std::size_t exact_threshold = 20000;
  HnswParams hnsw;
};

inline Status VectorIndex::upsert_many(std::span<const VectorId> ids, std::span<const float> rows) {
  if (rows.size() != ids.size() * dimension())
    return bad_request("upsert_many: " + std::to_string(rows.size()) + " floats for " +
                       std::to_string(ids.size()) + " vectors of dimension " + std::to_string(dimension()));
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (Status ok = upsert(ids[i], rows.subspan(i * dimension(), dimension())); !ok) return ok;
  return {};
}

// Brute force over a contiguous float32 matrix (auto-vectorised dot products, partial sort top-k).
std::unique_ptr<VectorIndex> make_exact_index(std::size_t dimension);
// hnswlib HierarchicalNSW with the inner-product space on normalized vectors; deletes are markDelete with
// slot reuse; capacity grows automatically.
std::unique_ptr<VectorIndex> make_hnsw_index(std::size_t dimension, const HnswParams& params = {},
                                             std::size_t initial_capacity = 1024);
// Exact while size() < exact_threshold, switching to HNSW (built from the stored vectors) once it grows past
// it (and back to exact when it shrinks below half of it).
std::unique_ptr<VectorIndex> make_index(const IndexOptions& options);

// What a saved index describes; the caller decides whether a loaded index is still valid for its store.
struct IndexFileMeta {
  std::string model;        // the embedding model (at most 1 KiB)
  std::string fingerprint;  // opaque bytes describing the store state the index reflects (at most 1 GiB)
};

struct LoadedIndex {
  std::unique_ptr<VectorIndex> index;  // as make_index(options) would return, in HNSW mode
  IndexFileMeta meta;
};

// Whether save_index can write `index` (an HNSW index, or make_index's index while it uses HNSW): the exact
// index is rebuilt from the store fast enough and is never persisted.
bool persistable(const VectorIndex& index);
// Writes an HNSW index to `path` atomically (temporary file beside it, fsync, rename, fsync of the folder).
// Format (docs/search.md): header (magic, format version, dimension, counts, graph layout, model,
// fingerprint), the hnswlib graph, and a SHA-256 of everything before it. kBadRequest when !persistable.
Status save_index(const VectorIndex& index, const std::filesystem::path& path, const IndexFileMeta& meta);
// Reads a file written by save_index for `options` (dimension and HNSW M must match). The file is untrusted:
// its size, header, checksum and then graph structure are checked before the index is used; any mismatch is
// kBadRequest naming the reason (kNotFound when there is no file), never a crash.
Expected<LoadedIndex> load_index(const std::filesystem::path& path, const IndexOptions& options);

// L2-normalizes in place; returns false for a zero or non-finite vector.
bool normalize(std::span<float> vector);
// Cosine distance between two vectors (any norm); 1 for a zero vector.
float cosine_distance(std::span<const float> a, std::span<const float> b);

}  // namespace focal::search
