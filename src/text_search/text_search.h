// SPDX-License-Identifier: AGPL-3.0-or-later
// Text in photos for the library server (Immich's Ocr job and `ocr` search filter): the OCR job stores each
// line an ML node reads in a photo's preview, and search finds photos by those words, accent- and
// case-insensitive and tolerant of OCR noise (Immich's pg_trgm strict word similarity >= 0.5).
//
// Schema of component "ocr" (only this component writes it; others may read it):
//   asset_ocr(id INTEGER PRIMARY KEY, asset_id INTEGER NOT NULL REFERENCES asset ON DELETE CASCADE,
//             x1, y1, x2, y2, x3, y3, x4, y4 REAL NOT NULL,  -- corners TL, TR, BR, BL normalised to [0, 1]
//             box_score REAL NOT NULL, text_score REAL NOT NULL, text TEXT NOT NULL,
//             is_visible INTEGER NOT NULL DEFAULT 1)
//   ocr_search: FTS5(text; rowid = asset id) with the trigram tokenizer over the folded, tokenized text of all
//               of an asset's lines (a candidate filter; the similarity is computed in C++). A trigger on asset
//               deletion removes the row, since asset ids can be reused.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/error.h"

namespace focal::store {
class Database;
}
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

namespace focal::text_search {

// Migrations of component "ocr" (after "library").
Status migrate(store::Database& db);
// Rewrites ocr_search from the stored lines (after `focal db copy`, which copies asset_ocr but not the
// engine-specific search table).
Status rebuild_search_index(store::Database& db);

struct StoredLine {
  std::string text;
  std::array<float, 8> box{};
  float box_score = 0;
  float text_score = 0;
};

enum class OcrOutcome { kSuccess, kSkipped, kFailed };

class TextSearchService {
 public:
  // All references must outlive the service; `db` must be migrated.
  TextSearchService(store::Database& db, settings::SettingsStore& settings, ml::MlClient& ml,
                    const library::AssetRepository& assets);
  ~TextSearchService();
  TextSearchService(const TextSearchService&) = delete;
  TextSearchService& operator=(const TextSearchService&) = delete;

  // Ocr{id} and OcrQueueAll{force} on queue "ocr". Thumbnails for uploads queue Ocr (library).
  void register_jobs(jobs::JobQueue& queue);

  // The Ocr job body: skipped when OCR is off or the asset hidden; failed when the asset or its preview is
  // missing; kUnavailable when no ML node answered (retried). Replaces the asset's lines and search text in one
  // transaction and sets asset_job_status.ocr_at.
  Expected<OcrOutcome> process(std::int64_t asset_id);
  // OcrQueueAll: force deletes every line first; the assets to queue (not deleted, not hidden, with a preview;
  // without force only those never processed).
  Expected<std::vector<std::int64_t>> assets_to_process(bool force);

  // Assets of `owner` (every owner when unset) whose text matches `query` (400 when it has no word).
  Expected<std::unordered_set<std::int64_t>> matching_assets(std::optional<std::int64_t> owner,
                                                             std::string_view query) const;
  // The lines of one asset, in reading order.
  Expected<std::vector<StoredLine>> lines(std::int64_t asset_id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace focal::text_search
