// SPDX-License-Identifier: AGPL-3.0-or-later
// Smart search (CLIP embeddings) and keyword search (SQLite FTS5) for the library server.
//
// Schema of component "search" (only this component writes these tables; others may read them):
//   smart_search(asset_id INTEGER PRIMARY KEY REFERENCES asset(id) ON DELETE CASCADE,
//                model TEXT NOT NULL,      -- normalized CLIP model name that produced the embedding
//                dim INTEGER NOT NULL,     -- embedding length
//                embedding BLOB NOT NULL,  -- dim little-endian float32 (store::Statement::bind_floats)
//                version INTEGER NOT NULL) -- random, new on every insert/update (validates saved indexes)
//   keyword_search: FTS5(filename, description, camera, dates, ocr; rowid = asset id) with tokenizer
//                   `unicode61 remove_diacritics 2` (case- and accent-insensitive), one row per asset.
//
// Model changes: rows carry their model; only rows of the active clip.modelName are searched, and
// "missing" (SmartSearchQueueAll{force:false}) re-queues assets without a row for the active model. Unlike
// Immich, switching models keeps the old embeddings (switching back needs no re-encoding); "All" (force)
// deletes all rows.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/error.h"
#include "search/vector_index.h"

namespace focal::store {
class Database;
class Connection;
}  // namespace focal::store
namespace focal::settings {
class SettingsStore;
}
namespace focal::ml {
class MlClient;
}
namespace focal::library {
class AssetRepository;
}
namespace focal::jobs {
class JobQueue;
}

namespace focal::search {

// Migrations of component "search" (after "library": smart_search references asset).
Status migrate(store::Database& db);

// Filters shared by smart and keyword search (Immich's semantics: equality on exif fields, inclusive dates).
struct AssetFilter {
  std::optional<std::int64_t> owner_id;         // only this user's assets (every user-facing search sets it)
  std::optional<std::int64_t> taken_after_ms;   // inclusive, ms since epoch
  std::optional<std::int64_t> taken_before_ms;  // inclusive
  std::optional<std::string> make;
  std::optional<std::string> model;
  std::optional<std::string> lens_model;
  std::optional<std::string> type;       // asset.type ("IMAGE" / "VIDEO")
  std::optional<std::string> file_type;  // asset.file_type ("jpeg", "png", ...)
  std::vector<std::int64_t> person_ids;  // the asset must contain all of them (resolved by the people hook)
  std::optional<std::string> ocr_text;   // words read in the photo (resolved by the text-in-photos hook)
  // Only these assets (e.g. computed by another component); combined with everything else.
  std::optional<std::unordered_set<std::int64_t>> allowed_asset_ids;
  bool with_deleted = false;    // trashed assets are excluded unless set
  bool include_hidden = false;  // hidden assets (visibility 'hidden') are excluded unless set
};

struct SearchHit {
  std::int64_t asset_id = 0;
  float distance = 0;  // smart: cosine distance; keyword: bm25 rank (lower is better)
};

struct SearchPage {
  std::vector<SearchHit> items;
  std::optional<int> next_page;  // page + 1 when more results exist
};

struct SmartSearchRequest {
  std::string query;                           // trimmed text; or
  std::optional<std::int64_t> query_asset_id;  // "similar photos"
  std::string language;                        // UI locale (nllb models)
  int page = 1;                                // >= 1
  int size = 100;                              // 1..1000
  AssetFilter filter;
};

// Resolves person ids to the set of assets that contain ALL of them (the people component registers it);
// people that are not `owner_id`'s are unknown (404).
using PersonAssetsResolver = std::function<Expected<std::unordered_set<std::int64_t>>(
    std::optional<std::int64_t> owner_id, std::span<const std::int64_t> person_ids)>;

// Resolves text to the assets whose OCR text matches it (the text_search component registers it); every asset
// of `owner_id` when set.
using TextAssetsResolver = std::function<Expected<std::unordered_set<std::int64_t>>(
    std::optional<std::int64_t> owner_id, std::string_view text)>;

// The hooks other components give search for filters whose data they own.
struct FilterResolvers {
  PersonAssetsResolver people;
  TextAssetsResolver text;
};

enum class IndexOutcome { kSuccess, kSkipped, kFailed };

struct SmartSearchOptions {
  IndexOptions index;             // dimension is taken from the active model
  std::size_t query_cache = 100;  // LRU of text-query embeddings (Immich: 100)
  // Where the HNSW index of each model is saved (smart-search-<model>.hnsw) and read back at start-up instead
  // of being rebuilt; empty: never saved (in-memory database, tests).
  std::filesystem::path index_dir;
  // How often the in-memory index catches up with rows other processes wrote or deleted (several focal
  // processes on one PostgreSQL database); 0: never (a single process owns the library).
  std::chrono::milliseconds sync_interval{0};
  // FOCAL_VECTOR_INDEX=pgvector: the vectors live in PostgreSQL's pgvector extension (HNSW inside the database,
  // shared by every process) instead of an in-memory index per process; index_dir and sync_interval are then
  // unused. Opening fails when the database is SQLite or lacks pgvector 0.8.0 or later.
  bool pgvector = false;
};

class SmartSearchService {
 public:
  // Loads the active model's embeddings into the in-memory index and subscribes to settings changes (a CLIP
  // model change rebuilds the index for the new model). `db` must be migrated. With options.index_dir an HNSW
  // index is read from its saved file when that matches the store, saved after a rebuild, and saved again by the
  // destructor when it changed (docs/search.md, "Saved HNSW indexes").
  // All references must outlive the service.
  static Expected<std::unique_ptr<SmartSearchService>> open(store::Database& db,
                                                            settings::SettingsStore& settings,
                                                            ml::MlClient& ml,
                                                            const library::AssetRepository& assets,
                                                            SmartSearchOptions options = {});
  // Registers SmartSearch and SmartSearchQueueAll (queue smartSearch) and Immich's follow-up:
  // SmartSearch done (success or skipped) with source "upload" → AssetDetectDuplicates{id, source} (handled
  // by duplicates).
  void register_jobs(jobs::JobQueue& queue);
  ~SmartSearchService();
  SmartSearchService(const SmartSearchService&) = delete;
  SmartSearchService& operator=(const SmartSearchService&) = delete;

  // POST /search/smart: 400 "Smart search is not enabled" when ML/CLIP is off; 400 "Either `query` or
  // `queryAssetId` must be set"; 400 "Asset <id> has no embedding"; 400 for page < 1 or size outside 1..1000.
  // Nearest first (ties by asset id), no distance cutoff (as Immich).
  Expected<SearchPage> search(const SmartSearchRequest& request);
  // k nearest assets of the active model to `embedding` among those passing `filter` (duplicates use this).
  Expected<std::vector<Neighbor>> nearest(std::span<const float> embedding, std::size_t k,
                                          const SearchFilter& filter = {}) const;
  // The stored embedding of an asset for the active model (nullopt when none).
  Expected<std::optional<std::vector<float>>> embedding(std::int64_t asset_id) const;

  // The SmartSearch job body, as Immich's: skipped when the feature is off or the asset is hidden; failed
  // when the asset or its preview is missing; kUnavailable when no ML node answered (the job is retried).
  Expected<IndexOutcome> index_asset(std::int64_t asset_id);
  // SmartSearchQueueAll: force deletes every embedding first; returns the asset ids to queue (assets with a
  // preview, not hidden, not deleted; without force only those lacking an embedding of the active model).
  Expected<std::vector<std::int64_t>> assets_to_index(bool force);

  Status upsert(std::int64_t asset_id, std::span<const float> embedding);  // for the active model
  Status remove(std::int64_t asset_id);
  // Re-reads the active model's embeddings from the store (another process may have written some).
  Status reload();
  // Brings the index up to the store's rows of the active model, written or deleted by other processes (what
  // options.sync_interval runs in the background). Returns how many rows changed in the index.
  Expected<std::size_t> sync_with_store();

  void set_resolvers(FilterResolvers resolvers);

 private:
  struct Impl;
  explicit SmartSearchService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct KeywordSearchRequest {
  std::string
      query;  // words; every word must match (prefix match on the last word); FTS syntax is not interpreted
  int page = 1;
  int size = 250;  // 1..1000
  AssetFilter filter;
};

// Keyword search over file name, description, camera make/model/lens and dates (YYYY-MM-DD, year, month
// name); text read in photos is the `ocr_text` filter. Works with ML off. Order: best bm25 match first, then newest.
class KeywordSearch {
 public:
  explicit KeywordSearch(store::Database& db) : db_(db) {}
  // (Re)builds the row of one asset from the library tables; call after metadata extraction. Idempotent.
  Status index_asset(std::int64_t asset_id);
  // Same, inside the caller's write transaction.
  static Status index_asset(store::Connection& connection, std::int64_t asset_id);
  Status remove(std::int64_t asset_id);
  // Rebuilds every row (start-up repair, schema changes).
  Status reindex_all();
  // Keeps the index in sync: an on_done hook of AssetExtractMetadata re-indexes the asset (errors are logged;
  // the next metadata run or reindex_all repairs them).
  void register_jobs(jobs::JobQueue& queue);
  Expected<SearchPage> search(const KeywordSearchRequest& request) const;

  void set_resolvers(FilterResolvers resolvers) { resolvers_ = std::move(resolvers); }

 private:
  store::Database& db_;
  FilterResolvers resolvers_;
};

// Quotes user text for an FTS5 MATCH: each word becomes a "..." string (quotes doubled), the last one a
// prefix query; empty when the text has no words.
std::string fts5_query(std::string_view text);

// The same query for PostgreSQL: a tsquery of the words' letter-and-digit tokens (accents removed, case
// folded, as FTS5's unicode61 tokenizer folds them), a word of several tokens a phrase, the last token a
// prefix; empty when the text has no words.
std::string tsquery_text(std::string_view text);

// A PostgreSQL tsvector of the same tokens, from (text, weight A-D) fields in order.
std::string tsvector_text(const std::vector<std::pair<std::string, char>>& fields);

}  // namespace focal::search
