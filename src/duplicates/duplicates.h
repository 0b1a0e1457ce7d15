// SPDX-License-Identifier: AGPL-3.0-or-later
// Duplicate detection, as in Immich: assets whose CLIP embeddings are within duplicateDetection.maxDistance
// are put in one group; users list groups, resolve them (keep some, trash the rest) or dismiss them.
//
// Schema of component "duplicates" (only this component writes it; others may read it):
//   asset_duplicate(asset_id INTEGER PRIMARY KEY REFERENCES asset ON DELETE CASCADE,
//                   duplicate_id INTEGER NOT NULL)          -- the group; Immich's asset.duplicateId
//   duplicate_group_seq(id INTEGER PRIMARY KEY AUTOINCREMENT) -- allocates group ids (never reused)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"

namespace focal::store {
class Database;
}
namespace focal::jobs {
class JobQueue;
}
namespace focal::settings {
class SettingsStore;
}
namespace focal::search {
class SmartSearchService;
}
namespace focal::library {
class AssetRepository;
class LibraryService;
}  // namespace focal::library

namespace focal::duplicates {

using AssetId = std::int64_t;
using DuplicateId = std::int64_t;

// Migrations of component "duplicates" (after "library").
Status migrate(store::Database& db);

// --- the grouping rule (Immich's transitive group merge), pure ---
struct Candidate {
  AssetId asset = 0;
  std::optional<DuplicateId> duplicate_id;
};
struct GroupingPlan {
  // The group every listed asset ends in; nullopt with `clear_self` when the asset has no candidates.
  std::optional<DuplicateId> target;
  bool needs_new_id = false;               // target must be allocated
  std::vector<DuplicateId> merged_groups;  // whole groups moved into target
  std::vector<AssetId> assets;             // candidates + the asset itself, moved into target
  std::vector<AssetId> updated;            // assets whose group changed (they get duplicatesDetectedAt)
  bool clear_self = false;                 // no candidates but the asset had a group: leave it
};
GroupingPlan plan_grouping(AssetId asset, std::optional<DuplicateId> own_group,
                           std::span<const Candidate> candidates);

struct DuplicateGroup {
  DuplicateId id = 0;
  std::vector<AssetId> assets;          // ordered by date taken
  std::vector<AssetId> suggested_keep;  // 0 or 1 id: the largest file (ties: most EXIF fields, then last)
};

struct ResolveRequest {
  DuplicateId duplicate_id = 0;
  std::vector<AssetId> keep;
  std::vector<AssetId> trash;
};
enum class ResolveStatus { kSuccess, kNotFound, kValidation, kFailed };
std::string_view to_string(ResolveStatus status);  // "success", "not_found", "validation", "unknown"
struct ResolveResult {
  DuplicateId duplicate_id = 0;
  ResolveStatus status = ResolveStatus::kSuccess;
  std::string error;
};

enum class DetectOutcome { kSkipped, kGrouped, kNone, kFailed };

class DuplicateService {
 public:
  // Registers AssetDetectDuplicates(+QueueAll) on `queue` (the SmartSearch → AssetDetectDuplicates follow-up
  // for uploads is declared by search). Every argument outlives the service.
  static Expected<std::unique_ptr<DuplicateService>> create(store::Database& db, jobs::JobQueue& queue,
                                                            settings::SettingsStore& settings,
                                                            search::SmartSearchService& smart_search,
                                                            library::LibraryService& library);
  ~DuplicateService();
  DuplicateService(const DuplicateService&) = delete;
  DuplicateService& operator=(const DuplicateService&) = delete;

  // AssetDetectDuplicates body (Immich's guards, candidate search and grouping).
  Expected<DetectOutcome> detect(AssetId asset);
  // AssetDetectDuplicatesQueueAll{force}: returns how many were queued.
  Expected<std::int64_t> queue_all(bool force);

  // GET /duplicates: `owner`'s groups of >= 2 visible members (singleton groups are dissolved first). Groups
  // never mix owners: detection only compares an asset with its owner's assets.
  Expected<std::vector<DuplicateGroup>> groups(std::int64_t owner);
  // DELETE /duplicates/:id (keep all); 404 for another user's group.
  Status dismiss(std::int64_t owner, DuplicateId id);
  // POST /duplicates/resolve; another user's groups are not found.
  Expected<std::vector<ResolveResult>> resolve(std::int64_t owner, std::span<const ResolveRequest> requests);

 private:
  struct Impl;
  explicit DuplicateService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace focal::duplicates
