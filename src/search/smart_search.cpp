// SPDX-License-Identifier: AGPL-3.0-or-later
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <list>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <span>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "core/logging.h"
#include "core/storage.h"
#include "jobs/jobs.h"
#include "library/library.h"
#include "ml_client/ml_client.h"
#include "search/asset_filter_sql.h"
#include "search/pgvector_index.h"
#include "search/saved_index.h"
#include "search/search.h"
#include "settings/settings.h"
#include "store/database.h"
#include "store/query.h"

namespace focal::search {
namespace {

using detail::read_saved_index;
using detail::read_versions;
using detail::RowVersions;
using detail::saved_index_file;
using detail::seconds_since;
using detail::write_saved_index;

// Component "search" schema history (documented in search.h).
constexpr store::Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE smart_search (
  asset_id INTEGER PRIMARY KEY REFERENCES asset (id) ON DELETE CASCADE,
  model TEXT NOT NULL,
  dim INTEGER NOT NULL,
  embedding BLOB NOT NULL
);
CREATE INDEX smart_search_model_idx ON smart_search (model);
CREATE VIRTUAL TABLE keyword_search USING fts5(
  filename, description, camera, dates, ocr,
  tokenize = 'unicode61 remove_diacritics 2'
);
)sql",
     false,
     // PostgreSQL: the same columns and a full-text document focal builds (search/keyword_search.cpp), so
     // that words fold as FTS5's unicode61 folds them, whatever the server's text search configuration.
     R"sql(
CREATE TABLE smart_search (
  asset_id BIGINT PRIMARY KEY REFERENCES asset (id) ON DELETE CASCADE,
  model TEXT NOT NULL,
  dim INTEGER NOT NULL,
  embedding BYTEA NOT NULL
);
CREATE INDEX smart_search_model_idx ON smart_search (model);
CREATE TABLE keyword_search (
  rowid BIGINT PRIMARY KEY REFERENCES asset (id) ON DELETE CASCADE,
  filename TEXT NOT NULL,
  description TEXT NOT NULL,
  camera TEXT NOT NULL,
  dates TEXT NOT NULL,
  ocr TEXT NOT NULL,
  document TSVECTOR NOT NULL
);
CREATE INDEX keyword_search_document_idx ON keyword_search USING GIN (document);
)sql"},
    // A random version per row, replaced on every insert or update: the saved HNSW index records the version of
    // every row it holds, so a file is reused only for exactly the rows in the store. Random rather than a
    // counter so that a restored backup cannot replay numbers the file already saw. The index makes the
    // start-up check read (model, dim, asset_id, version) without touching the embedding pages.
    {2, R"sql(
ALTER TABLE smart_search ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
UPDATE smart_search SET version = random();
CREATE INDEX smart_search_version_idx ON smart_search (model, dim, asset_id, version);
)sql",
     false, R"sql(
ALTER TABLE smart_search ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
UPDATE smart_search SET version = floor((random() - 0.5) * 9.0e18)::BIGINT;
CREATE INDEX smart_search_version_idx ON smart_search (model, dim, asset_id, version);
)sql"},
};

constexpr int kMaxPageSize = 1000;
constexpr std::size_t kQueueBatch = 1000;  // Immich's JOBS_ASSET_PAGINATION_SIZE

std::string trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

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

}  // namespace

Status migrate(store::Database& db) { return db.migrate("search", kMigrations); }

struct SmartSearchService::Impl {
  store::Database& db;
  settings::SettingsStore& settings;
  ml::MlClient& ml;
  const library::AssetRepository& assets;
  SmartSearchOptions options;
  QueryCache cache;
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
  Status load(const std::string& model_name) {
    const std::string model = settings::normalize_clip_model_name(model_name);
    const auto dimension = settings::clip_model_dimension(model);
    if (!dimension) return bad_request("Unknown CLIP model: " + model_name);
    IndexOptions index_options = options.index;
    index_options.dimension = static_cast<std::size_t>(*dimension);
    std::lock_guard write_lock(write_mutex);
    if (options.pgvector) return load_pgvector(model, index_options);
    const auto file = saved_index_file(options.index_dir, model);

    std::unique_ptr<VectorIndex> fresh;
    RowVersions rows;
    if (file) {
      Status read = db.read([&](store::Connection& connection) -> Status {
        auto found = read_versions(connection, model, *dimension);
        if (!found) return found.error();
        rows = std::move(*found);
        return {};
      });
      if (!read) return read;
      // Below the threshold the index is exact and cheap to rebuild; no file is read.
      if (rows.size() >= index_options.exact_threshold)
        if (auto saved = read_saved_index(*file, model, index_options, rows)) fresh = std::move(*saved);
    }
    const bool from_file = fresh != nullptr;
    if (!from_file) {
      const auto start = std::chrono::steady_clock::now();
      fresh = make_index(index_options);
      rows.clear();
      std::vector<VectorId> ids;
      std::vector<float> vectors;
      Status loaded = db.read([&](store::Connection& connection) -> Status {
        return store::for_each_row(
            connection,
            "SELECT asset_id, version, embedding FROM smart_search WHERE model = ?1 AND dim = ?2 "
            "ORDER BY asset_id",
            [&](const store::Statement& row) {
              // An unusable row is still recorded: the index reflects it by not holding it.
              rows.emplace_back(row.int64(0), row.int64(1));
              auto vector = store::floats_of_dim(row, 2, static_cast<std::size_t>(*dimension));
              if (!vector) {
                spdlog::warn("smart_search: skipping asset {}: {}", row.int64(0), vector.error().message);
                return;
              }
              ids.push_back(row.int64(0));
              vectors.insert(vectors.end(), vector->begin(), vector->end());
            },
            model, *dimension);
      });
      if (!loaded) return loaded;
      if (Status added = fresh->upsert_many(ids, vectors); !added) return added;
      spdlog::info("Smart search: {} embeddings of {} indexed in {:.2f} s", ids.size(), model,
                   seconds_since(start));
    }
    bool changed = false;
    if (file && !persistable(*fresh)) {
      std::error_code ignored;  // a file left from when the library was larger would only take disk space
      std::filesystem::remove(*file, ignored);
    }
    if (!from_file && file && persistable(*fresh)) {
      if (Status saved = write_saved_index(*fresh, *file, model, rows); !saved) {
        spdlog::warn("Smart search: cannot save the index (retried at shutdown): {}", saved.error().message);
        changed = true;
      }
    }
    std::unordered_map<std::int64_t, std::int64_t> fresh_versions(rows.begin(), rows.end());
    std::unique_lock lock(index_mutex);
    active_model = model;
    index = std::move(fresh);
    versions = std::move(fresh_versions);
    dirty = changed;
    return {};
  }

  // The database is the index: only embeddings stored without their vector need one.
  Status load_pgvector(const std::string& model, const IndexOptions& index_options) {
    if (Status prepared = prepare_pgvector(db, kSmartSearchVectors); !prepared) return prepared;
    auto fresh =
        make_pgvector_index(db, kSmartSearchVectors, model, index_options.dimension, index_options.hnsw);
    const auto start = std::chrono::steady_clock::now();
    auto stored = backfill_pgvector(db, kSmartSearchVectors, *fresh, model);
    if (!stored) return stored.error();
    if (Status indexed = index_pgvector(db, kSmartSearchVectors, index_options.dimension, index_options.hnsw);
        !indexed)
      return indexed;
    if (*stored > 0)
      spdlog::info("Smart search: {} embeddings of {} stored and indexed in pgvector in {:.2f} s", *stored,
                   model, seconds_since(start));
    std::unique_lock lock(index_mutex);
    active_model = model;
    index = std::move(fresh);
    versions.clear();
    dirty = false;
    return {};
  }

  // Saves the active index when it is HNSW and changed since it was last read or written (clean shutdown,
  // model switch). Rows deleted behind the service's back (ON DELETE CASCADE of an asset) are dropped from
  // the index first; if the store holds rows the index lacks (another process), nothing is saved and the
  // next start rebuilds.
  Status save_if_changed() {
    std::lock_guard write_lock(write_mutex);
    const auto file = saved_index_file(options.index_dir, active_model);
    if (!file || !dirty || !index || !persistable(*index)) return {};
    RowVersions rows;
    Status read = db.read([&](store::Connection& connection) -> Status {
      auto found = read_versions(connection, active_model, static_cast<std::int64_t>(index->dimension()));
      if (!found) return found.error();
      rows = std::move(*found);
      return {};
    });
    if (!read) return read;
    std::unordered_map<std::int64_t, std::int64_t> stored(rows.begin(), rows.end());
    std::erase_if(versions, [&](const auto& entry) {
      if (stored.contains(entry.first)) return false;
      index->remove(entry.first);
      return true;
    });
    RowVersions held(versions.begin(), versions.end());
    std::sort(held.begin(), held.end());
    if (held != rows) {
      spdlog::warn(
          "Smart search: the index of {} differs from the store (written by another process?); not "
          "saved, the next start rebuilds it",
          active_model);
      return {};
    }
    if (!persistable(*index)) return {};  // removals shrank it back to an exact index
    if (Status saved = write_saved_index(*index, *file, active_model, rows); !saved) return saved;
    dirty = false;
    return {};
  }

  std::pair<std::string, VectorIndex*> active() const {
    std::shared_lock lock(index_mutex);
    return {active_model, index.get()};
  }

  // The stored embedding of `asset_id` for the active model, taken into the index: a row another process wrote
  // since the last catch-up (its duplicate job may run here). nullopt when the store has none.
  Expected<std::optional<std::vector<float>>> take_in(std::int64_t asset_id) {
    std::lock_guard write_lock(write_mutex);
    if (!index) return std::optional<std::vector<float>>{};
    const std::size_t dim = index->dimension();
    auto row = db.read([&](store::Connection& connection) {
      return store::query_one<std::int64_t, std::vector<float>>(
          connection,
          "SELECT version, embedding FROM smart_search WHERE asset_id = ?1 AND model = ?2 AND dim = ?3",
          asset_id, active_model, static_cast<std::int64_t>(dim));
    });
    if (!row) return std::move(row).error();
    if (!*row || std::get<1>(**row).size() != dim) return std::optional<std::vector<float>>{};
    auto& [version, embedding] = **row;
    std::shared_lock lock(index_mutex);
    if (Status added = index->upsert(asset_id, embedding); !added) return added.error();
    versions[asset_id] = version;
    dirty = true;
    return std::optional<std::vector<float>>{std::move(embedding)};
  }

  Status upsert(std::int64_t asset_id, const std::string& model, std::span<const float> embedding) {
    std::lock_guard write_lock(write_mutex);
    const auto version = static_cast<std::int64_t>(version_source());
    Status written = db.write([&](store::Connection& connection) -> Status {
      Status stored = store::exec(
          connection,
          "INSERT INTO smart_search (asset_id, model, dim, embedding, version) VALUES (?1, ?2, ?3, ?4, ?5) "
          "ON CONFLICT (asset_id) DO UPDATE SET model = excluded.model, dim = excluded.dim, "
          "embedding = excluded.embedding, version = excluded.version",
          asset_id, model, static_cast<std::int64_t>(embedding.size()), store::Floats{embedding}, version);
      if (!stored || !options.pgvector) return stored;
      return store_pgvector(connection, kSmartSearchVectors, asset_id, embedding);  // the row is the index
    });
    if (!written || options.pgvector) return written;
    std::shared_lock lock(index_mutex);
    dirty = true;
    if (model != active_model) {
      index->remove(asset_id);  // the asset's row now belongs to another model
      versions.erase(asset_id);
      return {};
    }
    versions[asset_id] = version;
    return index->upsert(asset_id, embedding);
  }

  Status remove(std::int64_t asset_id) {
    std::lock_guard write_lock(write_mutex);
    Status removed = db.write([&](store::Connection& connection) {
      return store::exec(connection, "DELETE FROM smart_search WHERE asset_id = ?1", asset_id);
    });
    if (!removed || options.pgvector) return removed;  // pgvector: the vector row went with it (cascade)
    std::shared_lock lock(index_mutex);
    index->remove(asset_id);
    versions.erase(asset_id);
    dirty = true;
    return {};
  }

  Expected<std::size_t> sync_with_store() {
    std::lock_guard write_lock(write_mutex);
    if (!index) return std::size_t{0};
    if (options.pgvector) return backfill_pgvector(db, kSmartSearchVectors, *index, active_model);
    RowVersions rows;  // sorted by asset id
    Status read = db.read([&](store::Connection& connection) -> Status {
      auto found = read_versions(connection, active_model, static_cast<std::int64_t>(index->dimension()));
      if (!found) return found.error();
      rows = std::move(*found);
      return {};
    });
    if (!read) return read.error();
    std::vector<std::int64_t> changed;
    for (const auto& [id, version] : rows) {
      const auto held = versions.find(id);
      if (held == versions.end() || held->second != version) changed.push_back(id);
    }
    std::vector<std::int64_t> gone;
    for (const auto& [id, version] : versions) {
      const auto stored = std::lower_bound(rows.begin(), rows.end(), std::pair{id, std::int64_t{0}},
                                           [](const auto& a, const auto& b) { return a.first < b.first; });
      if (stored == rows.end() || stored->first != id) gone.push_back(id);
    }
    if (changed.empty() && gone.empty()) return std::size_t{0};
    struct Row {
      std::int64_t id;
      std::int64_t version;
      std::vector<float> embedding;
    };
    std::vector<Row> fetched;
    constexpr std::size_t kChunk = 500;  // embeddings read per statement (2 KB each at 512-d)
    for (std::size_t begin = 0; begin < changed.size(); begin += kChunk) {
      const std::span<const std::int64_t> chunk(changed.data() + begin,
                                                std::min(kChunk, changed.size() - begin));
      Status got = db.read([&](store::Connection& connection) -> Status {
        return store::for_each_row(
            connection,
            "SELECT asset_id, version, embedding FROM smart_search WHERE model = ?1 AND dim = ?2 AND "
            "asset_id IN " +
                store::id_list(connection, "?3"),
            [&](const store::Statement& row) {
              auto vector = store::floats_of_dim(row, 2, index->dimension());
              if (vector) fetched.push_back({row.int64(0), row.int64(1), std::move(*vector)});
            },
            active_model, static_cast<std::int64_t>(index->dimension()), store::json_ids(chunk));
      });
      if (!got) return got.error();
    }
    std::shared_lock lock(index_mutex);
    for (const Row& row : fetched) {
      if (Status added = index->upsert(row.id, row.embedding); !added) return added.error();
      versions[row.id] = row.version;
    }
    for (const std::int64_t id : gone) {
      index->remove(id);
      versions.erase(id);
    }
    dirty = true;
    return fetched.size() + gone.size();
  }

  void sync_loop() {
    std::unique_lock lock(syncer_mutex);
    while (!syncer_wake.wait_for(lock, options.sync_interval, [&] { return stopping; })) {
      lock.unlock();
      auto synced = sync_with_store();
      if (!synced) {
        spdlog::warn("Smart search: cannot catch up with the store: {}", synced.error().message);
      } else if (*synced > 0) {
        spdlog::debug("Smart search: {} rows of other processes indexed", *synced);
      }
      lock.lock();
    }
  }

  Status remove_all() {
    std::lock_guard write_lock(write_mutex);
    Status cleared =
        db.write([](store::Connection& connection) { return connection.exec("DELETE FROM smart_search"); });
    if (!cleared || options.pgvector) return cleared;
    std::shared_lock lock(index_mutex);
    index->clear();
    versions.clear();
    dirty = true;
    return {};
  }
};

SmartSearchService::SmartSearchService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SmartSearchService::~SmartSearchService() {
  if (!impl_) return;
  if (impl_->syncer.joinable()) {
    {
      const std::lock_guard lock(impl_->syncer_mutex);
      impl_->stopping = true;
    }
    impl_->syncer_wake.notify_all();
    impl_->syncer.join();
  }
  impl_->settings.unsubscribe(impl_->listener_id);
  // A clean shutdown keeps the next start from rebuilding the HNSW graph.
  if (Status saved = impl_->save_if_changed(); !saved)
    spdlog::warn("Smart search: cannot save the index: {}", saved.error().message);
}

Expected<std::unique_ptr<SmartSearchService>> SmartSearchService::open(store::Database& db,
                                                                       settings::SettingsStore& settings,
                                                                       ml::MlClient& ml,
                                                                       const library::AssetRepository& assets,
                                                                       SmartSearchOptions options) {
  auto impl = std::make_unique<Impl>(db, settings, ml, assets, options);
  if (Status loaded = impl->load(settings.get().machine_learning.clip.model_name); !loaded)
    return loaded.error();
  Impl* raw = impl.get();
  impl->listener_id =
      settings.subscribe([raw](const settings::SystemConfig& before, const settings::SystemConfig& after) {
        const auto& old_model = before.machine_learning.clip.model_name;
        const auto& new_model = after.machine_learning.clip.model_name;
        if (settings::normalize_clip_model_name(old_model) == settings::normalize_clip_model_name(new_model))
          return;
        // Embeddings of another model are invalid (Immich deletes them); focal keeps the rows (re-encoding
        // replaces them) but only searches the active model's.
        spdlog::info("CLIP model changed from {} to {}: run Smart Search \"Missing\" to encode the library",
                     old_model, new_model);
        if (Status saved = raw->save_if_changed(); !saved)
          spdlog::warn("Smart search: cannot save the index of {}: {}", old_model, saved.error().message);
        if (Status loaded = raw->load(new_model); !loaded)
          spdlog::error("Smart search: cannot load embeddings of {}: {}", new_model, loaded.error().message);
      });
  if (raw->options.sync_interval.count() > 0 && !raw->options.pgvector)
    raw->syncer = std::thread([raw] { raw->sync_loop(); });
  return std::unique_ptr<SmartSearchService>(new SmartSearchService(std::move(impl)));
}

Expected<std::size_t> SmartSearchService::sync_with_store() { return impl_->sync_with_store(); }

Status SmartSearchService::reload() {
  return impl_->load(impl_->settings.get().machine_learning.clip.model_name);
}

void SmartSearchService::set_resolvers(FilterResolvers resolvers) {
  std::lock_guard lock(impl_->resolver_mutex);
  impl_->resolvers = std::move(resolvers);
}

Status SmartSearchService::upsert(std::int64_t asset_id, std::span<const float> embedding) {
  const auto [model, index] = impl_->active();
  if (embedding.size() != index->dimension())
    return bad_request("Embedding has dimension " + std::to_string(embedding.size()) + ", " + model +
                       " expects " + std::to_string(index->dimension()));
  return impl_->upsert(asset_id, model, embedding);
}

Status SmartSearchService::remove(std::int64_t asset_id) { return impl_->remove(asset_id); }

Expected<std::optional<std::vector<float>>> SmartSearchService::embedding(std::int64_t asset_id) const {
  {
    std::shared_lock lock(impl_->index_mutex);
    if (auto held = impl_->index->get(asset_id)) return held;
  }
  // Not in this process's index: another process sharing the database may have written it since the last
  // catch-up.
  return impl_->take_in(asset_id);
}

Expected<std::vector<Neighbor>> SmartSearchService::nearest(std::span<const float> embedding, std::size_t k,
                                                            const SearchFilter& filter) const {
  std::shared_lock lock(impl_->index_mutex);
  return impl_->index->search(embedding, k, filter);
}

Expected<SearchPage> SmartSearchService::search(const SmartSearchRequest& request) {
  // The endpoint reads the config fresh, as Immich's does; another process may have changed it.
  auto config = impl_->settings.reload();
  if (!config) return config.error();
  if (!settings::smart_search_enabled(*config)) return bad_request("Smart search is not enabled");
  if (request.page < 1) return bad_request("page must be a positive integer");
  if (request.size < 1 || request.size > kMaxPageSize) return bad_request("size must be between 1 and 1000");

  // Query vector.
  std::vector<float> query;
  const std::string text = trim(request.query);
  const std::string& model_name = config->machine_learning.clip.model_name;
  if (!text.empty()) {
    const std::string key = model_name + '\n' + request.language + '\n' + text;
    if (auto cached = impl_->cache.find(key)) {
      query = std::move(*cached);
    } else {
      auto embedded = impl_->ml.clip_text(model_name, text, request.language);
      if (!embedded) return embedded.error();
      query = std::move(*embedded);
      impl_->cache.put(key, query);
    }
  } else if (request.query_asset_id) {
    auto asset = impl_->assets.get(*request.query_asset_id);
    if (!asset) return asset.error();
    if (!*asset || (request.filter.owner_id && (*asset)->owner_id != *request.filter.owner_id))
      return not_found("Asset " + std::to_string(*request.query_asset_id) + " not found");
    auto stored = embedding(*request.query_asset_id);
    if (!stored) return stored.error();
    if (!*stored)
      return bad_request("Asset " + std::to_string(*request.query_asset_id) + " has no embedding");
    query = std::move(**stored);
  } else {
    return bad_request("Either `query` or `queryAssetId` must be set");
  }

  // Filters: a restriction set (people, explicit ids), the SQL column filters as an allowed set, and
  // otherwise only the (few) hidden/deleted assets as an exclusion set.
  FilterResolvers resolvers;
  {
    std::lock_guard lock(impl_->resolver_mutex);
    resolvers = impl_->resolvers;
  }
  auto restriction = detail::restriction_set(request.filter, resolvers);
  if (!restriction) return restriction.error();
  std::optional<std::unordered_set<std::int64_t>> allowed = std::move(*restriction);
  std::unordered_set<std::int64_t> excluded;
  Status filtered = impl_->db.read([&](store::Connection& connection) -> Status {
    auto minority = detail::owner_is_minority(connection, request.filter);
    if (!minority) return minority.error();
    if (detail::has_column_filters(request.filter) || *minority) {
      auto matching = detail::matching_ids(connection, request.filter);
      if (!matching) return matching.error();
      if (allowed)
        std::erase_if(*allowed, [&](std::int64_t id) { return !matching->contains(id); });
      else
        allowed = std::move(*matching);
    } else {
      auto hidden = detail::excluded_ids(connection, request.filter);
      if (!hidden) return hidden.error();
      excluded = std::move(*hidden);
    }
    return {};
  });
  if (!filtered) return filtered.error();

  SearchFilter filter;
  if (allowed) filter.allowed = &*allowed;
  if (!excluded.empty()) filter.accept = [&excluded](VectorId id) { return !excluded.contains(id); };
  if (allowed && !excluded.empty())
    std::erase_if(*allowed, [&](std::int64_t id) { return excluded.contains(id); });

  const std::size_t offset =
      static_cast<std::size_t>(request.page - 1) * static_cast<std::size_t>(request.size);
  const std::size_t want = offset + static_cast<std::size_t>(request.size) + 1;  // +1: is there a next page?
  auto neighbors = nearest(query, want, filter);
  if (!neighbors) return neighbors.error();

  SearchPage page;
  for (std::size_t i = offset;
       i < neighbors->size() && page.items.size() < static_cast<std::size_t>(request.size); ++i)
    page.items.push_back({(*neighbors)[i].id, (*neighbors)[i].distance});
  if (neighbors->size() > offset + static_cast<std::size_t>(request.size)) page.next_page = request.page + 1;
  return page;
}

Expected<IndexOutcome> SmartSearchService::index_asset(std::int64_t asset_id) {
  const settings::SystemConfig config = impl_->settings.get();
  if (!settings::smart_search_enabled(config)) return IndexOutcome::kSkipped;
  auto asset = impl_->assets.get(asset_id);
  if (!asset) return asset.error();
  if (!*asset) {
    spdlog::warn("SmartSearch: asset {} not found", asset_id);
    return IndexOutcome::kFailed;
  }
  if ((*asset)->visibility == library::Visibility::kHidden) return IndexOutcome::kSkipped;
  auto preview = impl_->assets.preview_path(asset_id);
  if (!preview) return preview.error();
  if (!*preview) {
    spdlog::warn("SmartSearch: asset {} has no preview", asset_id);
    return IndexOutcome::kFailed;
  }
  auto bytes = read_file(**preview);
  if (!bytes) {
    spdlog::warn("SmartSearch: asset {}: {}", asset_id, bytes.error().message);
    return IndexOutcome::kFailed;
  }
  const std::string model = settings::normalize_clip_model_name(config.machine_learning.clip.model_name);
  auto embedding = impl_->ml.clip_image(config.machine_learning.clip.model_name, *bytes);
  if (!embedding) return embedding.error();
  const auto dimension = settings::clip_model_dimension(model);
  if (!dimension || embedding->size() != static_cast<std::size_t>(*dimension))
    return internal_error("CLIP model " + model + " returned " + std::to_string(embedding->size()) +
                          " values, expected " + std::to_string(dimension.value_or(0)));
  // As in Immich: the model may have changed while ML was busy; drop the stale vector.
  if (settings::normalize_clip_model_name(impl_->settings.get().machine_learning.clip.model_name) != model)
    return IndexOutcome::kSkipped;
  if (Status stored = impl_->upsert(asset_id, model, *embedding); !stored) return stored.error();
  return IndexOutcome::kSuccess;
}

Expected<std::vector<std::int64_t>> SmartSearchService::assets_to_index(bool force) {
  const std::string model =
      settings::normalize_clip_model_name(impl_->settings.get().machine_learning.clip.model_name);
  if (force)
    if (Status cleared = impl_->remove_all(); !cleared) return cleared.error();
  return impl_->db.read([&](store::Connection& connection) -> Expected<std::vector<std::int64_t>> {
    std::string sql =
        "SELECT a.id FROM asset a "
        "JOIN asset_file f ON f.asset_id = a.id AND f.type = 'preview' "
        "JOIN asset_job_status j ON j.asset_id = a.id "
        "WHERE a.deleted_at IS NULL AND a.visibility != 'hidden'";
    if (!force)
      sql += " AND NOT EXISTS (SELECT 1 FROM smart_search s WHERE s.asset_id = a.id AND s.model = ?1)";
    sql += " ORDER BY a.id";
    return force ? store::query<std::int64_t>(connection, sql)
                 : store::query<std::int64_t>(connection, sql, model);
  });
}

void SmartSearchService::register_jobs(jobs::JobQueue& queue) {
  queue.register_handler(jobs::job::kSmartSearch, jobs::queue::kSmartSearch,
                         [this](const jobs::Job& job) -> Expected<jobs::JobOutcome> {
                           auto id = job.target_id();
                           if (!id) return id.error();
                           auto outcome = index_asset(*id);
                           if (!outcome) return outcome.error();
                           switch (*outcome) {
                             case IndexOutcome::kSuccess:
                               return jobs::JobOutcome::kSuccess;
                             case IndexOutcome::kSkipped:
                               return jobs::JobOutcome::kSkipped;
                             case IndexOutcome::kFailed:
                               break;
                           }
                           return jobs::JobOutcome::kFailed;
                         });
  queue.register_handler(jobs::job::kSmartSearchQueueAll, jobs::queue::kSmartSearch,
                         [this, &queue](const jobs::Job& job) -> Expected<jobs::JobOutcome> {
                           auto config =
                               impl_->settings.reload();  // queue-all jobs read the config fresh, as Immich's
                           if (!config) return config.error();
                           if (!settings::smart_search_enabled(*config)) return jobs::JobOutcome::kSkipped;
                           const bool force = job.payload().force.value_or(false);
                           auto ids = assets_to_index(force);
                           if (!ids) return ids.error();
                           std::vector<jobs::JobRequest> batch;
                           for (std::size_t i = 0; i < ids->size(); ++i) {
                             jobs::JobRequest request;
                             request.name = jobs::job::kSmartSearch;
                             request.data = {{"id", (*ids)[i]}};
                             batch.push_back(std::move(request));
                             if (batch.size() == kQueueBatch || i + 1 == ids->size()) {
                               if (Status queued = queue.enqueue_all(batch); !queued) return queued.error();
                               batch.clear();
                             }
                           }
                           return jobs::JobOutcome::kSuccess;
                         });
  // As in Immich, duplicate detection follows smart search for uploads, even when it was skipped.
  queue.on_done(jobs::job::kSmartSearch, [](const jobs::Job& job, jobs::JobOutcome) {
    std::vector<jobs::JobRequest> next;
    const jobs::JobPayload payload = job.payload();
    if (payload.source == "upload" && payload.id) {
      jobs::JobRequest request;
      request.name = jobs::job::kAssetDetectDuplicates;
      request.data = {{"id", *payload.id}, {"source", "upload"}};
      next.push_back(std::move(request));
    }
    return next;
  });
}

}  // namespace focal::search
