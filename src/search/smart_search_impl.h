// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal: SmartSearchService's state. The index it keeps in step with the smart_search table (loading,
// saving, the catch-up with other processes, pgvector) is in smart_search_index.cpp; the searches and jobs
// on top of it are in smart_search.cpp.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "library/library.h"
#include "ml_client/ml_client.h"
#include "search/search.h"
#include "search/vector_index.h"
#include "settings/settings.h"
#include "store/database.h"

namespace focal::search {
namespace detail {

// Least-recently-used cache of text-query embeddings (Immich: 100 entries keyed by model + query + language).
class QueryCache {
 public:
  explicit QueryCache(std::size_t capacity) : capacity_(capacity) {}
  std::optional<std::vector<float>> find(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto found = map_.find(key);
    if (found == map_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, found->second);
    return found->second->second;
  }
  void put(const std::string& key, std::vector<float> value) {
    if (capacity_ == 0) return;
    std::lock_guard lock(mutex_);
    if (auto found = map_.find(key); found != map_.end()) {
      found->second->second = std::move(value);
      order_.splice(order_.begin(), order_, found->second);
      return;
    }
    order_.emplace_front(key, std::move(value));
    map_[key] = order_.begin();
    if (map_.size() > capacity_) {
      map_.erase(order_.back().first);
      order_.pop_back();
    }
  }

 private:
  using Entry = std::pair<std::string, std::vector<float>>;
  std::size_t capacity_;
  std::mutex mutex_;
  std::list<Entry> order_;
  std::unordered_map<std::string, std::list<Entry>::iterator> map_;
};

}  // namespace detail

struct SmartSearchService::Impl {
  store::Database& db;
  settings::SettingsStore& settings;
  ml::MlClient& ml;
  const library::AssetRepository& assets;
  SmartSearchOptions options;
  detail::QueryCache cache;
  int listener_id = 0;

  mutable std::shared_mutex index_mutex;  // guards the index pointer and active model
  std::string active_model;               // normalized name
  std::unique_ptr<VectorIndex> index;

  // Held across a store write and the matching index update (and by load and save), so that `versions`
  // describes exactly what the index holds. Order: write_mutex, then index_mutex.
  std::mutex write_mutex;
  std::unordered_map<std::int64_t, std::int64_t> versions;  // asset id → row version reflected by the index
  bool dirty = false;  // the index changed since it was read from or written to its file
  std::mt19937_64 version_source{std::random_device{}()};

  std::mutex resolver_mutex;
  FilterResolvers resolvers;

  // The background catch-up with other processes' rows (options.sync_interval).
  std::thread syncer;
  std::mutex syncer_mutex;
  std::condition_variable syncer_wake;
  bool stopping = false;

  Impl(store::Database& database, settings::SettingsStore& settings_store, ml::MlClient& client,
       const library::AssetRepository& repository, SmartSearchOptions opts)
      : db(database),
        settings(settings_store),
        ml(client),
        assets(repository),
        options(opts),
        cache(opts.query_cache) {}

  // Makes `model` active: its saved index when that matches the store, else every stored embedding of
  // `model` in a fresh index (saved when it is HNSW).
  Status load(const std::string& model_name);
  // The database is the index: only embeddings stored without their vector need one.
  Status load_pgvector(const std::string& model, const IndexOptions& index_options);
  // Saves the active index when it is HNSW and changed since it was last read or written (clean shutdown,
  // model switch). Rows deleted behind the service's back (ON DELETE CASCADE of an asset) are dropped from
  // the index first; if the store holds rows the index lacks (another process), nothing is saved and the
  // next start rebuilds.
  Status save_if_changed();
  // The active model and its index (null before the first load).
  std::pair<std::string, VectorIndex*> active() const;
  // The stored embedding of `asset_id` for the active model, taken into the index: a row another process wrote
  // since the last catch-up (its duplicate job may run here). nullopt when the store has none.
  Expected<std::optional<std::vector<float>>> take_in(std::int64_t asset_id);
  // Stores (or deletes) a row and updates the active index to match, under write_mutex.
  Status upsert(std::int64_t asset_id, const std::string& model, std::span<const float> embedding);
  Status remove(std::int64_t asset_id);
  // Takes in the rows other processes wrote or deleted since the last look; returns how many changed.
  Expected<std::size_t> sync_with_store();
  // The syncer thread: sync_with_store() every options.sync_interval until `stopping`.
  void sync_loop();
  // Deletes every embedding (smart search "All").
  Status remove_all();
};

}  // namespace focal::search
