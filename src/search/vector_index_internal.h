// SPDX-License-Identifier: AGPL-3.0-or-later
// What the pieces of focal_vector_index share: the kernels, TopK, and the exact and HNSW indexes' interfaces.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "core/error.h"
#include "search/vector_index.h"

namespace focal::search::detail {

class IndexFileWriter;
class IndexFileReader;
struct FileHeader;

// --- kernels (vector_index.cpp) ---

// Dot product of two n-float arrays (SSE, and AVX2 where the CPU has it).
float dot(const float* a, const float* b, std::size_t n);

// A normalized copy of `vector`; kBadRequest (naming `what`) when its size is not `dimension` or it is zero or
// not finite.
Expected<std::vector<float>> normalized_copy(std::span<const float> vector, std::size_t dimension,
                                             const char* what);

// `rows` (ids.size() vectors of `dimension` back to back) normalized; kBadRequest when the sizes disagree or a
// vector is zero or not finite (naming its id).
Expected<std::vector<float>> normalized_rows(std::span<const VectorId> ids, std::span<const float> rows,
                                             std::size_t dimension);

inline bool passes(const SearchFilter& filter, VectorId id) {
  if (filter.allowed != nullptr && !filter.allowed->contains(id)) return false;
  return !filter.accept || filter.accept(id);
}

// Keeps the k best (smallest distance, then smallest id) seen so far.
class TopK {
 public:
  explicit TopK(std::size_t k) : k_(k) {}
  void offer(float distance, VectorId id) {
    if (k_ == 0) return;
    const Neighbor candidate{id, distance};
    if (heap_.size() < k_) {
      heap_.push_back(candidate);
      std::push_heap(heap_.begin(), heap_.end(), worse_first);
    } else if (better(candidate, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), worse_first);
      heap_.back() = candidate;
      std::push_heap(heap_.begin(), heap_.end(), worse_first);
    }
  }
  void merge(const TopK& other) {
    for (const auto& n : other.heap_) offer(n.distance, n.id);
  }
  std::vector<Neighbor> sorted() && {
    std::sort(heap_.begin(), heap_.end(), better);
    return std::move(heap_);
  }

 private:
  static bool better(const Neighbor& a, const Neighbor& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
  }
  // Max-heap on "worse": the front is the current worst.
  static bool worse_first(const Neighbor& a, const Neighbor& b) { return better(a, b); }

  std::size_t k_;
  std::vector<Neighbor> heap_;
};

// Called with every stored (id, normalized vector) pair.
using RowVisitor = std::function<void(VectorId, const float*)>;

// --- the exact index (exact_index.cpp): what the adaptive index uses beyond VectorIndex ---

class ExactIndex : public VectorIndex {
 public:
  virtual void for_each(const RowVisitor& fn) const = 0;
  // Inserts a vector of dimension() that is already normalized.
  virtual void insert_normalized(VectorId id, const float* vector) = 0;
};

std::unique_ptr<ExactIndex> make_exact(std::size_t dimension);

// --- the HNSW index (hnsw_index.cpp): what the adaptive index and the index files use beyond VectorIndex ---

class HnswIndex : public VectorIndex {
 public:
  // Bulk load of normalized rows (ids.size() × dimension() floats): parallel insertion.
  virtual Status insert_many(std::span<const VectorId> ids, const float* normalized_rows) = 0;
  virtual void for_each(const RowVisitor& fn) const = 0;
  // Writes the header and graph (save_index adds the digest). Writers wait; searches go on.
  virtual Status write_to(IndexFileWriter& out, const IndexFileMeta& meta) const = 0;
  // Replaces the graph with the one in `in` (positioned after the fingerprint; `header` already checked
  // against this index's dimension and M). Nothing read is trusted until the digest matched and the graph
  // passed its structural checks.
  virtual Status read_from(IndexFileReader& in, const FileHeader& header) = 0;
};

std::unique_ptr<HnswIndex> make_hnsw(std::size_t dimension, const HnswParams& params,
                                     std::size_t initial_capacity);

}  // namespace focal::search::detail
