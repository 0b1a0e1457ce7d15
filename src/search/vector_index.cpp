// SPDX-License-Identifier: AGPL-3.0-or-later
#include "search/vector_index.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

namespace focal::search {
namespace {

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

Status check_dimension(std::size_t expected, std::size_t got, const char* what) {
  if (expected == got) return {};
  return bad_request(std::string(what) + " has dimension " + std::to_string(got) + ", the index expects " +
                     std::to_string(expected));
}

Expected<std::vector<float>> normalized_copy(std::span<const float> vector, std::size_t dimension,
                                             const char* what) {
  if (Status ok = check_dimension(dimension, vector.size(), what); !ok) return ok.error();
  std::vector<float> copy(vector.begin(), vector.end());
  if (!normalize(copy)) return bad_request(std::string(what) + " is zero or not finite");
  return copy;
}

bool passes(const SearchFilter& filter, VectorId id) {
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

// --- ExactIndex ---

class ExactIndex final : public VectorIndex {
 public:
  explicit ExactIndex(std::size_t dimension) : dim_(dimension) {}

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
  template <class Fn>
  void for_each(Fn&& fn) const {
    std::shared_lock lock(mutex_);
    for (std::size_t row = 0; row < ids_.size(); ++row) fn(ids_[row], &matrix_[row * dim_]);
  }
  void insert_normalized(VectorId id, const float* vector) {
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

// --- HnswIndex ---

class HnswIndex final : public VectorIndex {
 public:
  HnswIndex(std::size_t dimension, const HnswParams& params, std::size_t initial_capacity)
      : dim_(dimension), params_(params), space_(dimension) {
    reset_graph(std::max<std::size_t>(initial_capacity, 16));
  }

  std::size_t dimension() const override { return dim_; }
  std::size_t size() const override {
    std::shared_lock lock(mutex_);
    return live_;
  }

  Status upsert(VectorId id, std::span<const float> vector) override {
    auto copy = normalized_copy(vector, dim_, "vector");
    if (!copy) return copy.error();
    std::unique_lock lock(mutex_);
    return insert_locked(id, copy->data());
  }

  // Bulk load: parallel insertion (hnswlib's addPoint is thread-safe for distinct labels).
  Status insert_many(std::span<const VectorId> ids, const float* normalized_rows) {
    std::unique_lock lock(mutex_);
    ensure_capacity(graph_->cur_element_count + ids.size());
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> added{0};
    std::mutex error_mutex;
    std::string error;
    auto work = [&] {
      for (std::size_t i = next++; i < ids.size(); i = next++) {
        try {
          const bool existed = label_present(ids[i]);
          graph_->addPoint(normalized_rows + i * dim_, static_cast<hnswlib::labeltype>(ids[i]));
          if (!existed) ++added;
        } catch (const std::exception& e) {
          std::lock_guard guard(error_mutex);
          error = e.what();
        }
      }
    };
    std::vector<std::thread> workers;
    for (unsigned t = 1; t < threads && ids.size() > 1000; ++t) workers.emplace_back(work);
    work();
    for (auto& worker : workers) worker.join();
    live_ += added;
    if (!error.empty()) return internal_error("hnsw insert: " + error);
    return {};
  }

  bool remove(VectorId id) override {
    std::unique_lock lock(mutex_);
    auto found = graph_->label_lookup_.find(static_cast<hnswlib::labeltype>(id));
    if (found == graph_->label_lookup_.end() || graph_->isMarkedDeleted(found->second)) return false;
    graph_->markDelete(static_cast<hnswlib::labeltype>(id));
    --live_;
    // hnswlib 0.6 cannot reuse deleted slots for new labels: compact once tombstones dominate.
    if (graph_->num_deleted_ > 1024 && graph_->num_deleted_ > live_) compact_locked();
    return true;
  }

  bool contains(VectorId id) const override {
    std::shared_lock lock(mutex_);
    return label_present(id);
  }

  template <class Fn>
  void for_each(Fn&& fn) const {
    std::shared_lock lock(mutex_);
    for (const auto& [label, internal] : graph_->label_lookup_) {
      if (graph_->isMarkedDeleted(internal)) continue;
      fn(static_cast<VectorId>(label), reinterpret_cast<const float*>(graph_->getDataByInternalId(internal)));
    }
  }

  Status upsert_many(std::span<const VectorId> ids, std::span<const float> rows) override {
    if (rows.size() != ids.size() * dim_)
      return bad_request("upsert_many: " + std::to_string(rows.size()) + " floats for " +
                         std::to_string(ids.size()) + " vectors of dimension " + std::to_string(dim_));
    std::vector<float> normalized(rows.begin(), rows.end());
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (!normalize(std::span<float>(&normalized[i * dim_], dim_)))
        return bad_request("vector " + std::to_string(ids[i]) + " is zero or not finite");
    return insert_many(ids, normalized.data());
  }

  std::optional<std::vector<float>> get(VectorId id) const override {
    std::shared_lock lock(mutex_);
    if (!label_present(id)) return std::nullopt;
    const auto internal = graph_->label_lookup_.at(static_cast<hnswlib::labeltype>(id));
    const auto* row = reinterpret_cast<const float*>(graph_->getDataByInternalId(internal));
    return std::vector<float>(row, row + dim_);
  }

  void clear() override {
    std::unique_lock lock(mutex_);
    reset_graph(1024);
  }

  Expected<std::vector<Neighbor>> search(std::span<const float> query, std::size_t k,
                                         const SearchFilter& filter) const override {
    auto q = normalized_copy(query, dim_, "query");
    if (!q) return q.error();
    std::shared_lock lock(mutex_);
    if (k == 0 || live_ == 0) return std::vector<Neighbor>{};
    // A small allowed set is cheaper (and exact) to scan directly; graph search degrades when most nodes are
    // filtered out.
    if (filter.allowed != nullptr && filter.allowed->size() <= std::max<std::size_t>(2048, live_ / 20))
      return exact_locked(q->data(), k, filter);
    auto result = graph_search_locked(q->data(), k, filter);
    // Too few results despite enough candidates: the filter starved the graph walk; fall back to a scan.
    if (!filter.empty() && result.size() < k && result.size() < live_)
      return exact_locked(q->data(), k, filter);
    return result;
  }

 private:
  using Graph = hnswlib::HierarchicalNSW<float>;

  void reset_graph(std::size_t capacity) {
    graph_ = std::make_unique<Graph>(&space_, capacity, params_.m, params_.ef_construction, params_.seed);
    live_ = 0;
  }

  bool label_present(VectorId id) const {
    auto found = graph_->label_lookup_.find(static_cast<hnswlib::labeltype>(id));
    return found != graph_->label_lookup_.end() && !graph_->isMarkedDeleted(found->second);
  }

  void ensure_capacity(std::size_t needed) {
    if (needed <= graph_->max_elements_) return;
    graph_->resizeIndex(std::max(needed, graph_->max_elements_ * 2));
  }

  Status insert_locked(VectorId id, const float* normalized) {
    const bool existed = label_present(id);
    const bool known_label = graph_->label_lookup_.contains(static_cast<hnswlib::labeltype>(id));
    if (!known_label) ensure_capacity(graph_->cur_element_count + 1);
    try {
      graph_->addPoint(normalized,
                       static_cast<hnswlib::labeltype>(id));  // updates (and undeletes) a known label
    } catch (const std::exception& e) {
      return internal_error(std::string("hnsw insert: ") + e.what());
    }
    if (!existed) ++live_;
    return {};
  }

  void compact_locked() {
    std::vector<VectorId> ids;
    std::vector<float> rows;
    for (const auto& [label, internal] : graph_->label_lookup_) {
      if (graph_->isMarkedDeleted(internal)) continue;
      ids.push_back(static_cast<VectorId>(label));
      const auto* row = reinterpret_cast<const float*>(graph_->getDataByInternalId(internal));
      rows.insert(rows.end(), row, row + dim_);
    }
    reset_graph(std::max<std::size_t>(ids.size() * 2, 1024));
    for (std::size_t i = 0; i < ids.size(); ++i)
      graph_->addPoint(&rows[i * dim_], static_cast<hnswlib::labeltype>(ids[i]));
    live_ = ids.size();
  }

  std::vector<Neighbor> exact_locked(const float* query, std::size_t k, const SearchFilter& filter) const {
    TopK top(k);
    auto consider = [&](hnswlib::labeltype label, hnswlib::tableint internal) {
      if (graph_->isMarkedDeleted(internal)) return;
      const auto id = static_cast<VectorId>(label);
      if (!passes(filter, id)) return;
      const auto* row = reinterpret_cast<const float*>(graph_->getDataByInternalId(internal));
      top.offer(1.0f - dot(row, query, dim_), id);
    };
    if (filter.allowed != nullptr && filter.allowed->size() < graph_->label_lookup_.size()) {
      for (VectorId id : *filter.allowed) {
        auto found = graph_->label_lookup_.find(static_cast<hnswlib::labeltype>(id));
        if (found != graph_->label_lookup_.end()) consider(found->first, found->second);
      }
    } else {
      for (const auto& [label, internal] : graph_->label_lookup_) consider(label, internal);
    }
    return std::move(top).sorted();
  }

  // hnswlib's searchKnn with a per-query ef (no shared setEf) and a filter: rejected and deleted nodes are
  // still walked through but never returned (the algorithm of hnswlib ≥ 0.7's filter functor).
  std::vector<Neighbor> graph_search_locked(const float* query, std::size_t k,
                                            const SearchFilter& filter) const {
    const Graph& g = *graph_;
    const std::size_t ef = std::max(params_.ef_search, k);
    hnswlib::tableint current = g.enterpoint_node_;
    float current_distance = g.fstdistfunc_(query, g.getDataByInternalId(current), g.dist_func_param_);
    for (int level = g.maxlevel_; level > 0; --level) {
      bool changed = true;
      while (changed) {
        changed = false;
        hnswlib::linklistsizeint* list = g.get_linklist(current, level);
        const int count = g.getListCount(list);
        const auto* neighbors = reinterpret_cast<const hnswlib::tableint*>(list + 1);
        for (int i = 0; i < count; ++i) {
          const float d = g.fstdistfunc_(query, g.getDataByInternalId(neighbors[i]), g.dist_func_param_);
          if (d < current_distance) {
            current_distance = d;
            current = neighbors[i];
            changed = true;
          }
        }
      }
    }

    const bool filtered = !filter.empty() || g.num_deleted_ > 0;
    auto accepted = [&](hnswlib::tableint internal) {
      if (g.isMarkedDeleted(internal)) return false;
      return filter.empty() || passes(filter, static_cast<VectorId>(g.getExternalLabel(internal)));
    };
    using Candidate = std::pair<float, hnswlib::tableint>;
    std::priority_queue<Candidate> top;  // max-heap: worst result on top
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> frontier;  // closest first
    hnswlib::VisitedList* visited_list = g.visited_list_pool_->getFreeVisitedList();
    hnswlib::vl_type* visited = visited_list->mass;
    const hnswlib::vl_type tag = visited_list->curV;

    float bound = std::numeric_limits<float>::max();
    if (!filtered || accepted(current)) {
      top.emplace(current_distance, current);
      bound = current_distance;
    }
    frontier.emplace(current_distance, current);
    visited[current] = tag;
    while (!frontier.empty()) {
      const auto [distance, node] = frontier.top();
      if (distance > bound && top.size() >= ef) break;
      frontier.pop();
      hnswlib::linklistsizeint* list = g.get_linklist0(node);
      const int count = g.getListCount(list);
      const auto* neighbors = reinterpret_cast<const hnswlib::tableint*>(list + 1);
      for (int i = 0; i < count; ++i) {
        const hnswlib::tableint candidate = neighbors[i];
        if (visited[candidate] == tag) continue;
        visited[candidate] = tag;
        const float d = g.fstdistfunc_(query, g.getDataByInternalId(candidate), g.dist_func_param_);
        if (top.size() < ef || d < bound) {
          frontier.emplace(d, candidate);
          if (!filtered || accepted(candidate)) top.emplace(d, candidate);
          if (top.size() > ef) top.pop();
          if (!top.empty()) bound = top.top().first;
        }
      }
    }
    g.visited_list_pool_->releaseVisitedList(visited_list);

    TopK best(k);
    while (!top.empty()) {
      best.offer(top.top().first, static_cast<VectorId>(g.getExternalLabel(top.top().second)));
      top.pop();
    }
    return std::move(best).sorted();
  }

  std::size_t dim_;
  HnswParams params_;
  hnswlib::InnerProductSpace space_;
  mutable std::shared_mutex mutex_;
  std::unique_ptr<Graph> graph_;
  std::size_t live_ = 0;
};

// --- AdaptiveIndex ---

class AdaptiveIndex final : public VectorIndex {
 public:
  explicit AdaptiveIndex(const IndexOptions& options)
      : options_(options), exact_(std::make_unique<ExactIndex>(options.dimension)) {}

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
    exact_ = std::make_unique<ExactIndex>(options_.dimension);
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
    auto hnsw = std::make_unique<HnswIndex>(options_.dimension, options_.hnsw, ids.size() * 2);
    if (Status ok = hnsw->insert_many(ids, rows.data()); !ok) return;  // stay exact; still correct
    hnsw_ = std::move(hnsw);
    exact_.reset();
  }

  void switch_to_exact() {
    auto exact = std::make_unique<ExactIndex>(options_.dimension);
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

std::unique_ptr<VectorIndex> make_exact_index(std::size_t dimension) {
  return std::make_unique<ExactIndex>(dimension);
}

std::unique_ptr<VectorIndex> make_hnsw_index(std::size_t dimension, const HnswParams& params,
                                             std::size_t initial_capacity) {
  return std::make_unique<HnswIndex>(dimension, params, initial_capacity);
}

std::unique_ptr<VectorIndex> make_index(const IndexOptions& options) {
  return std::make_unique<AdaptiveIndex>(options);
}

}  // namespace focal::search
