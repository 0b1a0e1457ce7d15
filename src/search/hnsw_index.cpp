// SPDX-License-Identifier: AGPL-3.0-or-later
// The HNSW index (hnswlib's graph on normalized vectors, filtered search) and its graph's save and load.
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <string>
#include <thread>

#include "search/index_file.h"
#include "search/vector_index_internal.h"

namespace focal::search::detail {

static_assert(std::numeric_limits<hnswlib::tableint>::max() == kMaxElements);

std::uint64_t level0_bytes(std::uint64_t m, std::uint64_t dimension) {
  return 2 * m * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint) + dimension * sizeof(float) +
         sizeof(hnswlib::labeltype);
}
std::uint64_t upper_level_bytes(std::uint64_t m) {
  return m * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
}

namespace {

class HnswIndexImpl final : public HnswIndex {
 public:
  HnswIndexImpl(std::size_t dimension, const HnswParams& params, std::size_t initial_capacity)
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
  Status insert_many(std::span<const VectorId> ids, const float* normalized_rows) override {
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

  void for_each(const RowVisitor& fn) const override {
    std::shared_lock lock(mutex_);
    for (const auto& [label, internal] : graph_->label_lookup_) {
      if (graph_->isMarkedDeleted(internal)) continue;
      fn(static_cast<VectorId>(label), reinterpret_cast<const float*>(graph_->getDataByInternalId(internal)));
    }
  }

  Status upsert_many(std::span<const VectorId> ids, std::span<const float> rows) override {
    auto normalized = normalized_rows(ids, rows, dim_);
    if (!normalized) return normalized.error();
    return insert_many(ids, normalized->data());
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

  // Writes the header and graph (save_index adds the digest). Writers wait; searches go on.
  Status write_to(IndexFileWriter& out, const IndexFileMeta& meta) const override {
    std::shared_lock lock(mutex_);
    const Graph& g = *graph_;
    FileHeader header;
    header.magic = kFileMagic;
    header.version = kFileFormatVersion;
    header.dimension = dim_;
    header.live = live_;
    header.elements = g.cur_element_count;
    header.m = g.M_;
    header.size_data_per_element = g.size_data_per_element_;
    header.size_links_per_element = g.size_links_per_element_;
    header.max_level = g.maxlevel_;
    header.entry_point = g.enterpoint_node_;
    header.model_bytes = static_cast<std::uint32_t>(meta.model.size());
    const std::uint64_t fingerprint_bytes = meta.fingerprint.size();
    if (Status ok = out.write_pod(header); !ok) return ok;
    if (Status ok = out.write(meta.model.data(), meta.model.size()); !ok) return ok;
    if (Status ok = out.write_pod(fingerprint_bytes); !ok) return ok;
    if (Status ok = out.write(meta.fingerprint.data(), fingerprint_bytes); !ok) return ok;
    if (Status ok = out.write(g.data_level0_memory_, g.cur_element_count * g.size_data_per_element_); !ok)
      return ok;
    for (std::size_t i = 0; i < g.cur_element_count; ++i) {
      const auto bytes = static_cast<std::uint32_t>(
          g.element_levels_[i] > 0 ? g.size_links_per_element_ * g.element_levels_[i] : 0);
      if (Status ok = out.write_pod(bytes); !ok) return ok;
      if (bytes > 0)
        if (Status ok = out.write(g.linkLists_[i], bytes); !ok) return ok;
    }
    return {};
  }

  // Replaces the graph with the one in `in` (positioned after the fingerprint; `header` already checked
  // against this index's dimension and M). Nothing read is trusted until the digest matched and the graph
  // passed check_graph.
  Status read_from(IndexFileReader& in, const FileHeader& header) override {
    std::unique_ptr<Graph> graph;
    try {
      const auto elements = static_cast<std::size_t>(header.elements);
      graph = std::make_unique<Graph>(&space_, std::max<std::size_t>(elements + elements / 8, 1024), header.m,
                                      params_.ef_construction, params_.seed);
    } catch (const std::exception& e) {
      return internal_error(std::string("allocating the graph: ") + e.what());
    }
    Graph& g = *graph;
    if (g.size_data_per_element_ != header.size_data_per_element ||
        g.size_links_per_element_ != header.size_links_per_element)
      return bad_request("graph layout differs from this build's hnswlib");
    if (Status ok = in.read(g.data_level0_memory_, header.elements * header.size_data_per_element, "level 0");
        !ok)
      return ok;
    // The destructor frees the link lists of elements whose level is > 0: levels are set once allocated.
    g.cur_element_count = static_cast<std::size_t>(header.elements);
    for (std::size_t i = 0; i < g.cur_element_count; ++i) {
      std::uint32_t bytes = 0;
      if (Status ok = in.read_pod(bytes, "link list size"); !ok) return ok;
      if (bytes == 0) {
        g.linkLists_[i] = nullptr;
        continue;
      }
      if (bytes % g.size_links_per_element_ != 0 ||
          bytes / g.size_links_per_element_ > static_cast<std::size_t>(kMaxGraphLevel) ||
          bytes > in.remaining())
        return bad_request("element " + std::to_string(i) + " has a link list of " + std::to_string(bytes) +
                           " bytes");
      g.linkLists_[i] = static_cast<char*>(std::malloc(bytes));
      if (g.linkLists_[i] == nullptr) return internal_error("allocating a link list");
      g.element_levels_[i] = static_cast<int>(bytes / g.size_links_per_element_);
      if (Status ok = in.read(g.linkLists_[i], bytes, "link list"); !ok) return ok;
    }
    if (Status ok = in.verify(); !ok) return ok;
    if (Status ok = check_graph(g, header); !ok) return ok;
    std::unique_lock lock(mutex_);
    graph_ = std::move(graph);
    live_ = static_cast<std::size_t>(header.live);
    return {};
  }

 private:
  using Graph = hnswlib::HierarchicalNSW<float>;

  // A file whose digest matches may still be forged: every link, level, label and vector is checked so that
  // hnswlib never reads outside its arrays. Fills label_lookup_, num_deleted_, maxlevel_ and enterpoint_node_.
  Status check_graph(Graph& g, const FileHeader& header) const {
    const std::size_t elements = g.cur_element_count;
    auto bad = [](std::size_t i, const std::string& what) {
      return bad_request("element " + std::to_string(i) + ": " + what);
    };
    if (elements == 0) {
      if (header.live != 0) return bad_request("an empty graph with live vectors");
      return {};
    }
    if (header.max_level < 0 || header.max_level > kMaxGraphLevel || header.entry_point >= elements ||
        g.element_levels_[header.entry_point] != header.max_level)
      return bad_request("invalid entry point or top level");
    auto check_links = [&](std::size_t i, hnswlib::linklistsizeint* list, std::size_t max_links,
                           int level) -> Status {
      const std::size_t count = g.getListCount(list);
      if (count > max_links) return bad(i, "too many links at level " + std::to_string(level));
      const auto* links = reinterpret_cast<const hnswlib::tableint*>(list + 1);
      for (std::size_t j = 0; j < count; ++j)
        if (links[j] >= elements || g.element_levels_[links[j]] < level)
          return bad(i, "a link to a missing node at level " + std::to_string(level));
      return {};
    };
    std::size_t deleted = 0;
    g.label_lookup_.reserve(elements);
    for (std::size_t i = 0; i < elements; ++i) {
      const auto internal = static_cast<hnswlib::tableint>(i);
      if (g.element_levels_[i] > header.max_level) return bad(i, "level above the top level");
      if (Status ok = check_links(i, g.get_linklist0(internal), g.maxM0_, 0); !ok) return ok;
      for (int level = 1; level <= g.element_levels_[i]; ++level)
        if (Status ok = check_links(i, g.get_linklist(internal, level), g.maxM_, level); !ok) return ok;
      const auto* row = reinterpret_cast<const float*>(g.getDataByInternalId(internal));
      const float norm = dot(row, row, dim_);
      if (!std::isfinite(norm) || std::abs(norm - 1.0f) > 1e-3f) return bad(i, "vector is not normalized");
      if (!g.label_lookup_.emplace(g.getExternalLabel(internal), internal).second)
        return bad(i, "duplicate id " + std::to_string(g.getExternalLabel(internal)));
      if (g.isMarkedDeleted(internal)) ++deleted;
    }
    if (elements - deleted != header.live)
      return bad_request("header says " + std::to_string(header.live) + " live vectors, the graph has " +
                         std::to_string(elements - deleted));
    g.num_deleted_ = deleted;
    g.maxlevel_ = header.max_level;
    g.enterpoint_node_ = header.entry_point;
    return {};
  }

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

}  // namespace

std::unique_ptr<HnswIndex> make_hnsw(std::size_t dimension, const HnswParams& params,
                                     std::size_t initial_capacity) {
  return std::make_unique<HnswIndexImpl>(dimension, params, initial_capacity);
}

}  // namespace focal::search::detail
