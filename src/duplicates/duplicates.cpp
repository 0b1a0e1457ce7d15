// SPDX-License-Identifier: AGPL-3.0-or-later
#include "duplicates/duplicates.h"

#include <algorithm>
#include <array>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/logging.h"
#include "jobs/jobs.h"
#include "library/library.h"
#include "search/search.h"
#include "settings/settings.h"
#include "store/database.h"
#include "store/query.h"

namespace focal::duplicates {
namespace {

constexpr std::size_t kSearchLimit = 64;  // DUPLICATE_SEARCH_LIMIT
constexpr std::size_t kQueueBatch = 1000;

constexpr std::array<store::Migration, 1> kMigrations{{
    {1, R"sql(
CREATE TABLE asset_duplicate (
  asset_id INTEGER PRIMARY KEY REFERENCES asset (id) ON DELETE CASCADE,
  duplicate_id INTEGER NOT NULL
);
CREATE INDEX asset_duplicate_group_idx ON asset_duplicate (duplicate_id);
CREATE TABLE duplicate_group_seq (
  id INTEGER PRIMARY KEY AUTOINCREMENT
);
)sql"},
}};

using store::exec;
using store::json_ids;
using store::query;

jobs::JobRequest detect_job(AssetId asset) {
  return jobs::JobRequest(std::string(jobs::job::kAssetDetectDuplicates), {{"id", asset}});
}

}  // namespace

Status migrate(store::Database& db) { return db.migrate("duplicates", kMigrations); }

std::string_view to_string(ResolveStatus status) {
  switch (status) {
    case ResolveStatus::kSuccess:
      return "success";
    case ResolveStatus::kNotFound:
      return "not_found";
    case ResolveStatus::kValidation:
      return "validation";
    case ResolveStatus::kFailed:
      return "unknown";
  }
  return "unknown";
}

GroupingPlan plan_grouping(AssetId asset, std::optional<DuplicateId> own_group,
                           std::span<const Candidate> candidates) {
  GroupingPlan plan;
  if (candidates.empty()) {
    if (own_group) {
      plan.clear_self = true;
      plan.updated.push_back(asset);
    }
    return plan;
  }
  std::vector<DuplicateId> group_ids;
  for (const Candidate& c : candidates) {
    if (c.duplicate_id && std::find(group_ids.begin(), group_ids.end(), *c.duplicate_id) == group_ids.end()) {
      group_ids.push_back(*c.duplicate_id);
    }
  }
  if (own_group) {
    plan.target = own_group;
  } else if (!group_ids.empty()) {
    plan.target = group_ids.front();
  } else {
    plan.needs_new_id = true;
  }
  for (DuplicateId id : group_ids) {
    if (!plan.target || id != *plan.target) plan.merged_groups.push_back(id);
  }
  for (const Candidate& c : candidates) {
    plan.assets.push_back(c.asset);
    if (!plan.target || c.duplicate_id != plan.target) plan.updated.push_back(c.asset);
  }
  plan.assets.push_back(asset);
  plan.updated.push_back(asset);
  return plan;
}

struct DuplicateService::Impl {
  store::Database& db;
  jobs::JobQueue& queue;
  settings::SettingsStore& settings;
  search::SmartSearchService& smart_search;
  library::LibraryService& library;

  // Nearest same-type, non-deleted timeline/archive assets within max_distance (at most 64), self excluded.
  // Only the same owner's assets: duplicates never group two users' photos.
  Expected<std::vector<Candidate>> candidates(AssetId asset, std::int64_t owner, const std::string& type,
                                              std::span<const float> embedding, double max_distance) {
    std::size_t window = kSearchLimit + 1;
    while (true) {
      auto nearest = smart_search.nearest(embedding, window);
      if (!nearest) return std::move(nearest).error();
      std::vector<std::int64_t> ids;
      std::size_t within = 0;
      for (const search::Neighbor& n : *nearest) {
        if (n.distance > max_distance) continue;
        ++within;
        if (n.id != asset) ids.push_back(n.id);
      }
      std::unordered_map<AssetId, std::optional<DuplicateId>> passing;
      if (!ids.empty()) {
        Status checked = db.read([&](store::Connection& c) -> Status {
          return store::for_each_row(
              c,
              "SELECT a.id, d.duplicate_id FROM asset a LEFT JOIN asset_duplicate d ON d.asset_id = a.id "
              "WHERE a.id IN (SELECT value FROM json_each(?1)) AND a.deleted_at IS NULL "
              "AND a.visibility IN ('timeline', 'archive') AND a.type = ?2 AND a.owner_id = ?3",
              [&](const store::Statement& row) {
                passing[row.int64(0)] = store::column<std::optional<DuplicateId>>(row, 1);
              },
              json_ids(ids), type, owner);
        });
        if (!checked) return checked.error();
      }
      std::vector<Candidate> out;
      for (const search::Neighbor& n : *nearest) {
        auto it = passing.find(n.id);
        if (it == passing.end() || n.distance > max_distance) continue;
        out.push_back(Candidate{n.id, it->second});
        if (out.size() == kSearchLimit) break;
      }
      const bool exhausted = nearest->size() < window || within < nearest->size();
      if (out.size() >= kSearchLimit || exhausted) return out;
      window *= 4;
    }
  }

  Expected<DetectOutcome> detect(AssetId asset) {
    const settings::SystemConfig config = settings.get();
    if (!settings::duplicate_detection_enabled(config)) return DetectOutcome::kSkipped;
    struct Row {
      std::string type;
      std::string visibility;
      std::optional<DuplicateId> group;
      std::int64_t owner = 0;
    };
    auto row = db.read([&](store::Connection& c) {
      return store::query_one(
          c,
          "SELECT a.type, a.visibility, d.duplicate_id, a.owner_id FROM asset a LEFT JOIN asset_duplicate d "
          "ON d.asset_id = a.id WHERE a.id = ? AND a.deleted_at IS NULL",
          [](const store::Statement& r) {
            return Row{r.text(0), r.text(1), store::column<std::optional<DuplicateId>>(r, 2), r.int64(3)};
          },
          asset);
    });
    if (!row) return std::move(row).error();
    if (!*row) return not_found("Asset " + std::to_string(asset) + " not found");
    if ((*row)->visibility == "hidden" || (*row)->visibility == "locked") return DetectOutcome::kSkipped;
    auto embedding = smart_search.embedding(asset);
    if (!embedding) return std::move(embedding).error();
    if (!*embedding) return unprocessable("Asset " + std::to_string(asset) + " is missing embedding");
    auto found = candidates(asset, (*row)->owner, (*row)->type, **embedding,
                            config.machine_learning.duplicate_detection.max_distance);
    if (!found) return std::move(found).error();
    const GroupingPlan plan = plan_grouping(asset, (*row)->group, *found);
    Status written = db.write([&](store::Connection& c) -> Status {
      std::optional<DuplicateId> target = plan.target;
      if (plan.needs_new_id) {
        if (Status s = exec(c, "INSERT INTO duplicate_group_seq DEFAULT VALUES"); !s) return s;
        target = c.last_insert_rowid();
      }
      if (plan.clear_self) {
        Status s = exec(c, "DELETE FROM asset_duplicate WHERE asset_id = ?", asset);
        if (!s) return s;
      }
      if (target) {
        if (!plan.merged_groups.empty()) {
          Status s =
              exec(c,
                   "UPDATE asset_duplicate SET duplicate_id = ? WHERE duplicate_id IN (SELECT value FROM "
                   "json_each(?))",
                   *target, json_ids(plan.merged_groups));
          if (!s) return s;
        }
        for (AssetId member : plan.assets) {
          Status s = exec(
              c,
              "INSERT INTO asset_duplicate (asset_id, duplicate_id) VALUES (?, ?) ON CONFLICT (asset_id) "
              "DO UPDATE SET duplicate_id = excluded.duplicate_id",
              member, *target);
          if (!s) return s;
        }
      }
      const std::int64_t now = store::now_ms();
      std::vector<AssetId> marked = plan.updated;
      if (std::find(marked.begin(), marked.end(), asset) == marked.end()) marked.push_back(asset);
      for (AssetId id : marked) {
        if (Status s = library::set_job_status(c, id, library::JobStatusColumn::kDuplicatesDetected, now);
            !s) {
          return s;
        }
      }
      return {};
    });
    if (!written) return written.error();
    return plan.target || plan.needs_new_id ? DetectOutcome::kGrouped : DetectOutcome::kNone;
  }

  Expected<std::int64_t> queue_all(bool force) {
    auto config = settings.reload();
    if (!config) return std::move(config).error();
    if (!settings::duplicate_detection_enabled(*config)) return 0;
    const std::string model = settings::normalize_clip_model_name(config->machine_learning.clip.model_name);
    auto listed = db.read([&](store::Connection& c) {
      return query<AssetId>(
          c,
          std::string("SELECT a.id FROM asset a JOIN smart_search s ON s.asset_id = a.id AND s.model = ? "
                      "LEFT JOIN asset_job_status j ON j.asset_id = a.id WHERE a.deleted_at IS NULL "
                      "AND a.visibility IN ('timeline', 'archive')") +
              (force ? "" : " AND j.duplicates_detected_at IS NULL") + " ORDER BY a.id",
          model);
    });
    if (!listed) return std::move(listed).error();
    const std::vector<AssetId>& ids = *listed;
    for (std::size_t start = 0; start < ids.size(); start += kQueueBatch) {
      std::vector<jobs::JobRequest> batch;
      for (std::size_t i = start; i < std::min(ids.size(), start + kQueueBatch); ++i)
        batch.push_back(detect_job(ids[i]));
      if (Status s = queue.enqueue_all(batch); !s) return s.error();
    }
    return static_cast<std::int64_t>(ids.size());
  }

  struct Member {
    AssetId id = 0;
    std::int64_t file_size = 0;
    int exif_fields = 0;
  };

  // Members of `owner`'s group that are shown (non-deleted, timeline/archive), ordered by date taken.
  Expected<std::vector<Member>> members(store::Connection& c, std::int64_t owner, DuplicateId id) {
    return query(
        c,
        "SELECT a.id, a.file_size, (e.make IS NOT NULL) + (e.model IS NOT NULL) + (e.lens_model IS NOT NULL) "
        "+ "
        "(e.description IS NOT NULL) + (e.rating IS NOT NULL) + (e.latitude IS NOT NULL) + "
        "(e.date_time_original IS NOT NULL) + (e.time_zone IS NOT NULL) FROM asset_duplicate d "
        "JOIN asset a ON a.id = d.asset_id LEFT JOIN asset_exif e ON e.asset_id = a.id WHERE d.duplicate_id "
        "= ? "
        "AND a.owner_id = ? AND a.deleted_at IS NULL AND a.visibility IN ('timeline', 'archive') "
        "ORDER BY a.file_created_at, a.id",
        [](const store::Statement& row) {
          return Member{row.int64(0), row.int64(1), store::column<int>(row, 2)};
        },
        id, owner);
  }

  Expected<std::vector<DuplicateGroup>> groups(std::int64_t owner) {
    return db.write([&](store::Connection& c) -> Expected<std::vector<DuplicateGroup>> {
      auto ids = query<DuplicateId>(c,
                                    "SELECT DISTINCT d.duplicate_id FROM asset_duplicate d JOIN asset a ON "
                                    "a.id = d.asset_id WHERE a.owner_id = ? ORDER BY d.duplicate_id",
                                    owner);
      if (!ids) return std::move(ids).error();
      std::vector<DuplicateGroup> out;
      for (DuplicateId id : *ids) {
        auto shown = members(c, owner, id);
        if (!shown) return std::move(shown).error();
        if (shown->size() < 2) {
          // A singleton group is dissolved (as Immich's GET /duplicates does).
          Status s = exec(c, "DELETE FROM asset_duplicate WHERE duplicate_id = ?", id);
          if (!s) return s.error();
          continue;
        }
        DuplicateGroup group{id, {}, {}};
        std::vector<Member> ranked = *shown;
        for (const Member& m : ranked) group.assets.push_back(m.id);
        // Largest file, then most EXIF fields, then the last one (stable sort).
        std::stable_sort(ranked.begin(), ranked.end(), [](const Member& a, const Member& b) {
          return a.file_size != b.file_size ? a.file_size < b.file_size : a.exif_fields < b.exif_fields;
        });
        group.suggested_keep.push_back(ranked.back().id);
        out.push_back(std::move(group));
      }
      return out;
    });
  }

  Status dismiss(std::int64_t owner, DuplicateId id) {
    return db.write([&](store::Connection& c) -> Status {
      Status s = exec(c,
                      "DELETE FROM asset_duplicate WHERE duplicate_id = ?1 AND asset_id IN "
                      "(SELECT id FROM asset WHERE owner_id = ?2)",
                      id, owner);
      if (!s) return s;
      if (c.changes() == 0) return not_found("Duplicate group " + std::to_string(id) + " not found");
      return {};
    });
  }

  ResolveResult resolve_one(std::int64_t owner, const ResolveRequest& request) {
    ResolveResult result{request.duplicate_id, ResolveStatus::kSuccess, ""};
    auto shown = db.read([&](store::Connection& c) { return members(c, owner, request.duplicate_id); });
    if (!shown) return {request.duplicate_id, ResolveStatus::kFailed, shown.error().message};
    if (shown->empty()) return {request.duplicate_id, ResolveStatus::kNotFound, "Duplicate group not found"};
    std::set<AssetId> keep, trash;
    for (const Member& m : *shown) {
      const bool in_keep = std::find(request.keep.begin(), request.keep.end(), m.id) != request.keep.end();
      const bool in_trash =
          std::find(request.trash.begin(), request.trash.end(), m.id) != request.trash.end();
      if (in_keep && in_trash) {
        return {request.duplicate_id, ResolveStatus::kValidation,
                "An asset cannot be in both keepAssetIds and trashAssetIds"};
      }
      if (!in_keep && !in_trash) {
        return {request.duplicate_id, ResolveStatus::kValidation,
                "Every asset must be in either keepAssetIds or trashAssetIds"};
      }
      (in_keep ? keep : trash).insert(m.id);
    }
    for (AssetId id : trash) {
      if (Status s = library.soft_delete(id); !s)
        return {request.duplicate_id, ResolveStatus::kFailed, s.error().message};
    }
    Status cleared = db.write([&](store::Connection& c) -> Status {
      return exec(c, "DELETE FROM asset_duplicate WHERE duplicate_id = ?", request.duplicate_id);
    });
    if (!cleared) return {request.duplicate_id, ResolveStatus::kFailed, cleared.error().message};
    return result;
  }

  void register_handlers() {
    queue.register_handler(jobs::job::kAssetDetectDuplicates, jobs::queue::kDuplicateDetection,
                           [this](const jobs::Job& job) -> Expected<jobs::JobOutcome> {
                             auto it = job.data.find("id");
                             if (it == job.data.end() || !it->is_number_integer())
                               return jobs::JobOutcome::kFailed;
                             auto outcome = detect(it->get<AssetId>());
                             if (!outcome) {
                               const ErrorKind kind = outcome.error().kind;
                               if (kind == ErrorKind::kNotFound || kind == ErrorKind::kUnprocessable) {
                                 spdlog::warn("{}: {}", job.name, outcome.error().message);
                                 return jobs::JobOutcome::kFailed;
                               }
                               return outcome.error();
                             }
                             return *outcome == DetectOutcome::kSkipped ? jobs::JobOutcome::kSkipped
                                                                        : jobs::JobOutcome::kSuccess;
                           });
    queue.register_handler(jobs::job::kAssetDetectDuplicatesQueueAll, jobs::queue::kDuplicateDetection,
                           [this](const jobs::Job& job) -> Expected<jobs::JobOutcome> {
                             auto force = job.data.find("force");
                             const bool all =
                                 force != job.data.end() && force->is_boolean() && force->get<bool>();
                             auto queued = queue_all(all);
                             if (!queued) return queued.error();
                             return jobs::JobOutcome::kSuccess;
                           });
    // The SmartSearch -> AssetDetectDuplicates follow-up for uploads is declared by
    // search.
  }
};

DuplicateService::DuplicateService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DuplicateService::~DuplicateService() = default;

Expected<std::unique_ptr<DuplicateService>> DuplicateService::create(store::Database& db,
                                                                     jobs::JobQueue& queue,
                                                                     settings::SettingsStore& settings,
                                                                     search::SmartSearchService& smart_search,
                                                                     library::LibraryService& library) {
  auto impl = std::unique_ptr<Impl>(new Impl{db, queue, settings, smart_search, library});
  impl->register_handlers();
  return std::unique_ptr<DuplicateService>(new DuplicateService(std::move(impl)));
}

Expected<DetectOutcome> DuplicateService::detect(AssetId asset) { return impl_->detect(asset); }
Expected<std::int64_t> DuplicateService::queue_all(bool force) { return impl_->queue_all(force); }
Expected<std::vector<DuplicateGroup>> DuplicateService::groups(std::int64_t owner) {
  return impl_->groups(owner);
}
Status DuplicateService::dismiss(std::int64_t owner, DuplicateId id) { return impl_->dismiss(owner, id); }
Expected<std::vector<ResolveResult>> DuplicateService::resolve(std::int64_t owner,
                                                               std::span<const ResolveRequest> requests) {
  std::vector<ResolveResult> out;
  for (const ResolveRequest& request : requests) out.push_back(impl_->resolve_one(owner, request));
  return out;
}

}  // namespace focal::duplicates
