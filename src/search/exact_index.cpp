// SPDX-License-Identifier: AGPL-3.0-or-later
// The exact index: brute force over a contiguous float32 matrix, scanned by several threads when large.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "search/vector_index_internal.h"

namespace focal::search::detail {
namespace {

// Scans [begin, end) rows of a row-major matrix. Distance = 1 - dot of normalized vectors.
void scan_rows(const float* matrix, const VectorId* ids, std::size_t begin, std::size_t end, std::size_t dim,
               const float* query, const SearchFilter& filter, TopK& top) {
  const bool filtered = !filter.empty();
  for (std::size_t row = begin; row < end; ++row) {
    if (filtered && !passes(filter, ids[row])) continue;
    top.offer(1.0f - dot(matrix + row * dim, query, dim), ids[row]);
  }
}

// Rows scanned per thread before a second thread pays for itself (measured: bench/search_bench).
constexpr std::size_t kParallelScanFloats = std::size_t{8} << 20;

class ExactIndexImpl final : public ExactIndex {
 public:
  explicit ExactIndexImpl(std::size_t dimension) : dim_(dimension) {}

  std::size_t dimension() const override { return dim_; }
  std::size_t size() const override {
    std::shared_lock lock(mutex_);
    return ids_.size();
  }

  Status upsert(VectorId id, std::span<const float> vector) override {
    auto copy = normalized_copy(vector, dim_, "vector");
    if (!copy) return copy.error();
    std::unique_lock lock(mutex_);
    insert_locked(id, *copy);
    return {};
  }

  bool remove(VectorId id) override {
    std::unique_lock lock(mutex_);
    auto found = slot_.find(id);
    if (found == slot_.end()) return false;
    const std::size_t row = found->second;
    const std::size_t last = ids_.size() - 1;
    if (row != last) {
      std::memcpy(&matrix_[row * dim_], &matrix_[last * dim_], dim_ * sizeof(float));
      ids_[row] = ids_[last];
      slot_[ids_[row]] = row;
    }
    ids_.pop_back();
    matrix_.resize(ids_.size() * dim_);
    slot_.erase(found);
    return true;
  }

  bool contains(VectorId id) const override {
    std::shared_lock lock(mutex_);
    return slot_.contains(id);
  }

  std::optional<std::vector<float>> get(VectorId id) const override {
    std::shared_lock lock(mutex_);
    auto found = slot_.find(id);
    if (found == slot_.end()) return std::nullopt;
    const float* row = &matrix_[found->second * dim_];
    return std::vector<float>(row, row + dim_);
  }

  void clear() override {
    std::unique_lock lock(mutex_);
    ids_.clear();
    matrix_.clear();
    slot_.clear();
  }

  Expected<std::vector<Neighbor>> search(std::span<const float> query, std::size_t k,
                                         const SearchFilter& filter) const override {
    auto q = normalized_copy(query, dim_, "query");
    if (!q) return q.error();
    std::shared_lock lock(mutex_);
    return search_locked(q->data(), k, filter);
  }

  // For the adaptive index: every (id, vector) pair.
  void for_each(const RowVisitor& fn) const override {
    std::shared_lock lock(mutex_);
    for (std::size_t row = 0; row < ids_.size(); ++row) fn(ids_[row], &matrix_[row * dim_]);
  }
  void insert_normalized(VectorId id, const float* vector) override {
    std::unique_lock lock(mutex_);
    insert_locked(id, std::span<const float>(vector, dim_));
  }

 private:
  void insert_locked(VectorId id, std::span<const float> vector) {
    if (auto found = slot_.find(id); found != slot_.end()) {
      std::memcpy(&matrix_[found->second * dim_], vector.data(), dim_ * sizeof(float));
      return;
    }
    slot_.emplace(id, ids_.size());
    ids_.push_back(id);
    matrix_.insert(matrix_.end(), vector.begin(), vector.end());
  }

  std::vector<Neighbor> search_locked(const float* query, std::size_t k, const SearchFilter& filter) const {
    const std::size_t rows = ids_.size();
    // A small allowed set: look its members up instead of scanning everything.
    if (filter.allowed != nullptr && filter.allowed->size() * 4 < rows) {
      TopK top(k);
      for (VectorId id : *filter.allowed) {
        auto found = slot_.find(id);
        if (found == slot_.end() || (filter.accept && !filter.accept(id))) continue;
        top.offer(1.0f - dot(&matrix_[found->second * dim_], query, dim_), id);
      }
      return std::move(top).sorted();
    }
    const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t threads =
        std::min<std::size_t>(hardware, std::max<std::size_t>(1, rows * dim_ / kParallelScanFloats));
    if (threads <= 1) {
      TopK top(k);
      scan_rows(matrix_.data(), ids_.data(), 0, rows, dim_, query, filter, top);
      return std::move(top).sorted();
    }
    std::vector<TopK> partial(threads, TopK(k));
    std::vector<std::thread> workers;
    const std::size_t chunk = (rows + threads - 1) / threads;
    for (std::size_t t = 1; t < threads; ++t) {
      workers.emplace_back([&, t] {
        scan_rows(matrix_.data(), ids_.data(), t * chunk, std::min(rows, (t + 1) * chunk), dim_, query,
                  filter, partial[t]);
      });
    }
    scan_rows(matrix_.data(), ids_.data(), 0, std::min(rows, chunk), dim_, query, filter, partial[0]);
    for (auto& worker : workers) worker.join();
    for (std::size_t t = 1; t < threads; ++t) partial[0].merge(partial[t]);
    return std::move(partial[0]).sorted();
  }

  std::size_t dim_;
  mutable std::shared_mutex mutex_;
  std::vector<float> matrix_;  // row-major, normalized rows
  std::vector<VectorId> ids_;
  std::unordered_map<VectorId, std::size_t> slot_;
};

}  // namespace

std::unique_ptr<ExactIndex> make_exact(std::size_t dimension) {
  return std::make_unique<ExactIndexImpl>(dimension);
}

}  // namespace focal::search::detail
