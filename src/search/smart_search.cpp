// SPDX-License-Identifier: AGPL-3.0-or-later
// SmartSearchService: the smart-search endpoint, the embedding jobs and the component's migrations.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <thread>
#include <unordered_map>

#include "core/logging.h"
#include "core/storage.h"
#include "jobs/jobs.h"
#include "library/library.h"
#include "ml_client/ml_client.h"
#include "search/asset_filter_sql.h"
#include "search/search.h"
#include "search/smart_search_impl.h"
#include "settings/settings.h"
#include "store/database.h"
#include "store/query.h"

namespace focal::search {
namespace {

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

}  // namespace

Status migrate(store::Database& db) { return db.migrate("search", kMigrations); }

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
