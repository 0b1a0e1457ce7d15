// SPDX-License-Identifier: AGPL-3.0-or-later
// SmartSearchService's index kept in step with the smart_search table: loaded from the store or its saved
// file, saved at shutdown, caught up with other processes' rows, or left to pgvector.
#include <chrono>
#include <filesystem>

#include "core/logging.h"
#include "search/pgvector_index.h"
#include "search/saved_index.h"
#include "search/smart_search_impl.h"
#include "store/query.h"

namespace focal::search {

using detail::read_saved_index;
using detail::read_versions;
using detail::RowVersions;
using detail::saved_index_file;
using detail::seconds_since;
using detail::write_saved_index;

Status SmartSearchService::Impl::load(const std::string& model_name) {
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

Status SmartSearchService::Impl::load_pgvector(const std::string& model, const IndexOptions& index_options) {
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

Status SmartSearchService::Impl::save_if_changed() {
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

std::pair<std::string, VectorIndex*> SmartSearchService::Impl::active() const {
  std::shared_lock lock(index_mutex);
  return {active_model, index.get()};
}

Expected<std::optional<std::vector<float>>> SmartSearchService::Impl::take_in(std::int64_t asset_id) {
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

Status SmartSearchService::Impl::upsert(std::int64_t asset_id, const std::string& model,
                                        std::span<const float> embedding) {
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

Status SmartSearchService::Impl::remove(std::int64_t asset_id) {
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

Expected<std::size_t> SmartSearchService::Impl::sync_with_store() {
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

void SmartSearchService::Impl::sync_loop() {
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

Status SmartSearchService::Impl::remove_all() {
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

}  // namespace focal::search
