// SPDX-License-Identifier: AGPL-3.0-or-later
#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "core/logging.h"
#include "core/storage.h"
#include "jobs/jobs.h"
#include "library/library.h"
#include "ml_client/ml_client.h"
#include "people/detection.h"
#include "people/face_index.h"
#include "people/people.h"
#include "people/sql.h"
#include "people/thumbnail.h"
#include "settings/settings.h"

namespace focal::people {

using detail::exec;
using detail::json_ids;
using detail::query;

std::string_view to_string(MergeStatus status) {
  switch (status) {
    case MergeStatus::kSuccess:
      return "success";
    case MergeStatus::kNotFound:
      return "not_found";
    case MergeStatus::kFailed:
      return "unknown";
  }
  return "unknown";
}

namespace {

constexpr int kQueueBatch = 1000;  // JOBS_ASSET_PAGINATION_SIZE
constexpr std::string_view kRecognitionStateKey = "facial-recognition-state";
constexpr std::string_view kFaceColumns =
    "f.id, f.asset_id, f.person_id, f.image_width, f.image_height, f.x1, f.y1, f.x2, f.y2, f.source_type, "
    "f.score, EXISTS (SELECT 1 FROM face_search fs WHERE fs.face_id = f.id)";
constexpr std::string_view kPersonColumns =
    "p.id, p.name, p.birth_date, p.is_hidden, p.is_favorite, p.color, p.thumbnail_path, p.feature_face_id, "
    "p.created_at, p.updated_at";
// Faces that count for people, as in Immich: non-deleted, visible, on non-deleted timeline assets.
constexpr std::string_view kCountedFaces =
    "SELECT f.person_id AS person_id, count(*) AS faces FROM asset_face f JOIN asset a ON a.id = f.asset_id "
    "WHERE f.person_id IS NOT NULL AND f.deleted_at IS NULL AND f.is_visible = 1 AND a.deleted_at IS NULL "
    "AND a.visibility = 'timeline' GROUP BY f.person_id";

Face face_of_row(const store::Statement& row) {
  Face face;
  face.id = row.int64(0);
  face.asset_id = row.int64(1);
  if (!row.is_null(2)) face.person_id = row.int64(2);
  face.image_width = static_cast<int>(row.int64(3));
  face.image_height = static_cast<int>(row.int64(4));
  face.box = Box{static_cast<int>(row.int64(5)), static_cast<int>(row.int64(6)),
                 static_cast<int>(row.int64(7)), static_cast<int>(row.int64(8))};
  face.source = face_source_from_string(row.text(9)).value_or(FaceSource::kManual);
  face.score = row.real(10);
  face.has_embedding = row.int64(11) != 0;
  return face;
}

Person person_of_row(const store::Statement& row, const std::filesystem::path& data_dir, int count_column) {
  Person person;
  person.id = row.int64(0);
  person.name = row.text(1);
  if (!row.is_null(2)) person.birth_date = row.text(2);
  person.is_hidden = row.int64(3) != 0;
  person.is_favorite = row.int64(4) != 0;
  if (!row.is_null(5)) person.color = row.text(5);
  const std::string thumbnail = row.text(6);
  if (!thumbnail.empty()) person.thumbnail_path = (data_dir / thumbnail).string();
  if (!row.is_null(7)) person.feature_face_id = row.int64(7);
  person.created_at_ms = row.int64(8);
  person.updated_at_ms = row.int64(9);
  if (count_column >= 0 && !row.is_null(count_column)) person.face_count = row.int64(count_column);
  return person;
}

jobs::JobRequest make_request(std::string_view name, nlohmann::json data, int priority = 0) {
  jobs::JobRequest request(std::string(name), std::move(data));
  request.priority = priority;
  return request;
}

Expected<std::int64_t> json_int(const nlohmann::json& data, std::string_view key) {
  auto it = data.find(key);
  if (it == data.end() || !it->is_number_integer()) {
    return unprocessable("job data needs an integer `" + std::string(key) + "`");
  }
  return it->get<std::int64_t>();
}

std::optional<bool> json_bool(const nlohmann::json& data, std::string_view key) {
  auto it = data.find(key);
  if (it == data.end() || !it->is_boolean()) return std::nullopt;
  return it->get<bool>();
}

// The job's error names its job, so the failed job (kept until cleared) says what went wrong; the queue
// decides from the kind: retried (kUnavailable), kept queued (kStorageFull), or failed.
Error job_error(const Error& error, std::string_view job) {
  return {error.kind, std::string(job) + ": " + error.message};
}

}  // namespace

struct PeopleService::Impl {
  store::Database& db;
  jobs::JobQueue& queue;
  settings::SettingsStore& settings;
  ml::MlClient& ml;
  const library::AssetRepository& assets;
  PeopleOptions options;
  detail::FaceIndex index;

  Impl(store::Database& database, jobs::JobQueue& job_queue, settings::SettingsStore& settings_store,
       ml::MlClient& ml_client, const library::AssetRepository& asset_repository,
       PeopleOptions people_options)
      : db(database),
        queue(job_queue),
        settings(settings_store),
        ml(ml_client),
        assets(asset_repository),
        options(std::move(people_options)),
        index(database, options.face_index_exact_threshold) {}

  RecognitionSettings recognition_settings() const {
    const settings::SystemConfig config = settings.get();
    const auto& fr = config.machine_learning.facial_recognition;
    return RecognitionSettings{settings::facial_recognition_enabled(config), fr.min_faces, fr.max_distance};
  }

  jobs::JobRequest thumbnail_job(PersonId person) const {
    jobs::JobRequest request = make_request(jobs::job::kPersonGenerateThumbnail, {{"id", person}}, 1);
    request.dedupe_key = "PersonGenerateThumbnail:" + std::to_string(person);
    return request;
  }

  // --- reads ---
  // `owner` set: only that user's person (another user's id is not found).
  Expected<std::optional<Person>> find_person(store::Connection& c, PersonId id,
                                              std::optional<OwnerId> owner = std::nullopt) const {
    std::optional<Person> person;
    Status status = query(
        c,
        "SELECT " + std::string(kPersonColumns) + ", counts.faces FROM person p LEFT JOIN (" +
            std::string(kCountedFaces) + ") counts ON counts.person_id = p.id WHERE p.id = ?1 " +
            "AND (?2 = 0 OR p.owner_id = ?3)",
        [&](store::Statement& s) { s.bind(1, id).bind(2, owner ? 1 : 0).bind(3, owner.value_or(0)); },
        [&](const store::Statement& row) -> Status {
          person = person_of_row(row, options.data_dir, 10);
          return {};
        });
    if (!status) return status.error();
    return person;
  }

  Expected<Person> require_person(store::Connection& c, PersonId id,
                                  std::optional<OwnerId> owner = std::nullopt) const {
    auto person = find_person(c, id, owner);
    if (!person) return std::move(person).error();
    if (!*person) return not_found("Person not found");
    return **person;
  }

  Expected<std::optional<Face>> find_face(store::Connection& c, FaceId id,
                                          std::optional<OwnerId> owner = std::nullopt) const {
    std::optional<Face> face;
    Status status = query(
        c,
        "SELECT " + std::string(kFaceColumns) +
            " FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE f.id = ?1 AND f.deleted_at IS NULL "
            "AND (?2 = 0 OR a.owner_id = ?3)",
        [&](store::Statement& s) { s.bind(1, id).bind(2, owner ? 1 : 0).bind(3, owner.value_or(0)); },
        [&](const store::Statement& row) -> Status {
          face = face_of_row(row);
          return {};
        });
    if (!status) return status.error();
    return face;
  }

  Expected<std::optional<std::vector<float>>> face_embedding(store::Connection& c, FaceId id) const {
    std::optional<std::vector<float>> out;
    Status status = query(
        c, "SELECT embedding FROM face_search WHERE face_id = ?", [&](store::Statement& s) { s.bind(1, id); },
        [&](const store::Statement& row) -> Status {
          out = row.floats(0);
          return {};
        });
    if (!status) return status.error();
    return out;
  }

  // --- feature faces (Immich's createNewFeaturePhoto) ---
  // Gives `person` a feature face (any visible, non-deleted face; the lowest id for determinism) and queues
  // its thumbnail; clears it when the person has no face left.
  Status refresh_feature_face(store::Connection& c, PersonId person) {
    std::optional<FaceId> chosen;
    Status status = query(
        c,
        "SELECT f.id FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE f.person_id = ? "
        "AND f.deleted_at IS NULL AND f.is_visible = 1 AND a.deleted_at IS NULL ORDER BY f.id LIMIT 1",
        [&](store::Statement& s) { s.bind(1, person); },
        [&](const store::Statement& row) -> Status {
          chosen = row.int64(0);
          return {};
        });
    if (!status) return status;
    status = exec(c, "UPDATE person SET feature_face_id = ?, updated_at = ? WHERE id = ?",
                  [&](store::Statement& s) {
                    if (chosen) {
                      s.bind(1, *chosen);
                    } else {
                      s.bind(1, nullptr);
                    }
                    s.bind(2, store::now_ms()).bind(3, person);
                  });
    if (!status) return status;
    if (chosen) {
      auto queued = queue.enqueue(c, thumbnail_job(person));
      if (!queued) return queued.error();
    }
    return {};
  }

  Expected<std::optional<FaceId>> feature_face_of(store::Connection& c, PersonId person) const {
    std::optional<FaceId> feature;
    Status status = query(
        c, "SELECT feature_face_id FROM person WHERE id = ?", [&](store::Statement& s) { s.bind(1, person); },
        [&](const store::Statement& row) -> Status {
          if (!row.is_null(0)) feature = row.int64(0);
          return {};
        });
    if (!status) return status.error();
    return feature;
  }

  // After faces moved: the target gets a feature face if it has none; a source whose feature face moved away
  // gets a new one.
  Status fix_feature_faces(store::Connection& c, PersonId target, std::span<const PersonId> sources,
                           std::span<const FaceId> moved) {
    auto target_feature = feature_face_of(c, target);
    if (!target_feature) return target_feature.error();
    if (!*target_feature) {
      if (Status s = refresh_feature_face(c, target); !s) return s;
    }
    for (PersonId source : sources) {
      if (source == target) continue;
      auto feature = feature_face_of(c, source);
      if (!feature) return feature.error();
      if (!*feature || std::find(moved.begin(), moved.end(), **feature) != moved.end()) {
        if (Status s = refresh_feature_face(c, source); !s) return s;
      }
    }
    return {};
  }

  Status delete_people(store::Connection& c, std::span<const PersonId> ids) {
    std::vector<std::string> files;
    Status status = query(
        c,
        "SELECT thumbnail_path FROM person WHERE id IN (SELECT value FROM json_each(?)) AND thumbnail_path "
        "!= ''",
        [&](store::Statement& s) { s.bind(1, json_ids(ids)); },
        [&](const store::Statement& row) -> Status {
          files.push_back(row.text(0));
          return {};
        });
    if (!status) return status;
    status = exec(c, "DELETE FROM person WHERE id IN (SELECT value FROM json_each(?))",
                  [&](store::Statement& s) { s.bind(1, json_ids(ids)); });
    if (!status) return status;
    for (const std::string& file : files) {
      std::error_code ec;
      std::filesystem::remove(options.data_dir / file, ec);
    }
    return {};
  }

  Expected<std::int64_t> cleanup() {
    return db.write([&](store::Connection& c) -> Expected<std::int64_t> {
      std::vector<PersonId> empty;
      // NOT EXISTS, so people with no face rows at all go too (Immich's LEFT JOIN query misses them).
      Status status = query(
          c,
          "SELECT p.id FROM person p WHERE NOT EXISTS (SELECT 1 FROM asset_face f WHERE f.person_id = p.id "
          "AND f.deleted_at IS NULL AND f.is_visible = 1)",
          {}, [&](const store::Statement& row) -> Status {
            empty.push_back(row.int64(0));
            return {};
          });
      if (!status) return status.error();
      if (!empty.empty()) {
        if (Status deleted = delete_people(c, empty); !deleted) return deleted.error();
      }
      return static_cast<std::int64_t>(empty.size());
    });
  }

  // --- face detection (Immich's AssetDetectFaces) ---
  // One face model's embeddings all have one size; a model whose output size changed (its files were
  // replaced) is refused rather than mixed in, since clustering could not compare them.
  static Status check_embedding_size(store::Connection& c, const std::string& model, std::size_t size) {
    auto stored = detail::stored_face_dimension(c, model);
    if (!stored) return stored.error();
    if (*stored && **stored != size) {
      return unprocessable(
          "Face model " + model + " returned embeddings of " + std::to_string(size) +
          " values, but this library's faces from " + model + " have " + std::to_string(**stored) +
          ": run Face Detection \"Reset\" to detect every face again with the new model files");
    }
    return {};
  }

  // The face's embedding from `model`, replacing one from another model (never a second
  // embedding row for one face). The replacement is a new row, so other processes' indexes see it.
  static Status store_embedding(store::Connection& c, FaceId face, const std::string& model,
                                std::span<const float> embedding) {
    Status status = exec(c, "DELETE FROM face_search WHERE face_id = ?1 AND model != ?2",
                         [&](store::Statement& s) { s.bind(1, face).bind(2, std::string_view(model)); });
    if (!status) return status;
    return exec(c,
                "INSERT INTO face_search (face_id, embedding, model, dim) VALUES (?1, ?2, ?3, ?4) "
                "ON CONFLICT (face_id) DO NOTHING",
                [&](store::Statement& s) {
                  s.bind(1, face).bind_floats(2, embedding).bind(3, std::string_view(model));
                  s.bind(4, static_cast<std::int64_t>(embedding.size()));
                });
  }

  Expected<int> detect_faces(AssetId asset_id) {
    const settings::SystemConfig config = settings.get();
    if (!settings::facial_recognition_enabled(config)) return 0;
    auto asset = assets.get(asset_id);
    if (!asset) return std::move(asset).error();
    if (!*asset || (*asset)->deleted_at_ms)
      return not_found("Asset " + std::to_string(asset_id) + " not found");
    if ((*asset)->visibility == library::Visibility::kHidden) return 0;
    auto preview = assets.preview_path(asset_id);
    if (!preview) return std::move(preview).error();
    if (!*preview) return not_found("Asset " + std::to_string(asset_id) + " has no preview");
    auto bytes = read_file(**preview);
    if (!bytes) return std::move(bytes).error();
    const auto& fr = config.machine_learning.facial_recognition;
    auto detection = ml.detect_faces(fr.model_name, fr.model_name, fr.min_score, *bytes);
    if (!detection) return std::move(detection).error();

    std::vector<DetectedFace> detected;
    for (const ml::DetectedFace& face : detection->faces) {
      detected.push_back(
          DetectedFace{Box{face.box.x1, face.box.y1, face.box.x2, face.box.y2}, face.score, face.embedding});
    }
    std::vector<FaceId> inserted_ids;
    std::vector<FaceId> removed_ids;
    Status written = db.write([&](store::Connection& c) -> Status {
      std::vector<StoredFace> existing;
      Status status = query(
          c,
          "SELECT f.id, f.source_type, f.x1, f.y1, f.x2, f.y2, f.image_width, f.image_height, "
          "EXISTS (SELECT 1 FROM face_search fs WHERE fs.face_id = f.id AND fs.model = ?2) "
          "FROM asset_face f WHERE f.asset_id = ?1 ORDER BY f.id",
          [&](store::Statement& s) { s.bind(1, asset_id).bind(2, std::string_view(fr.model_name)); },
          [&](const store::Statement& row) -> Status {
            existing.push_back(StoredFace{
                row.int64(0), face_source_from_string(row.text(1)).value_or(FaceSource::kManual),
                Box{static_cast<int>(row.int64(2)), static_cast<int>(row.int64(3)),
                    static_cast<int>(row.int64(4)), static_cast<int>(row.int64(5))},
                static_cast<int>(row.int64(6)), static_cast<int>(row.int64(7)), row.int64(8) != 0});
            return {};
          });
      if (!status) return status;
      if (!detection->faces.empty()) {
        if (Status same_size =
                check_embedding_size(c, fr.model_name, detection->faces.front().embedding.size());
            !same_size)
          return same_size;
      }
      const ReconcilePlan plan = reconcile_faces(existing, detected, detection->image_width,
                                                 detection->image_height, (*asset)->width, (*asset)->height);
      const std::int64_t now = store::now_ms();
      if (!plan.remove.empty()) {
        status = exec(c, "DELETE FROM asset_face WHERE id IN (SELECT value FROM json_each(?))",
                      [&](store::Statement& s) { s.bind(1, json_ids(plan.remove)); });
        if (!status) return status;
        removed_ids = plan.remove;
        spdlog::info("Removed {} faces below detection threshold in asset {}", plan.remove.size(), asset_id);
      }
      for (const NewFace& face : plan.insert) {
        status = exec(
            c,
            "INSERT INTO asset_face (asset_id, image_width, image_height, x1, y1, x2, y2, score, "
            "source_type, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'machine-learning', ?, ?)",
            [&](store::Statement& s) {
              s.bind(1, asset_id).bind(2, face.image_width).bind(3, face.image_height);
              s.bind(4, face.box.x1).bind(5, face.box.y1).bind(6, face.box.x2).bind(7, face.box.y2);
              s.bind(8, face.score).bind(9, now).bind(10, now);
            });
        if (!status) return status;
        const FaceId id = c.last_insert_rowid();
        inserted_ids.push_back(id);
        if (status = store_embedding(c, id, fr.model_name, face.embedding); !status) return status;
      }
      for (const auto& [id, embedding] : plan.attach_embedding) {
        if (status = store_embedding(c, id, fr.model_name, embedding); !status) return status;
      }
      if (!inserted_ids.empty()) {
        // The barrier first (deduplicated), then one recognition job per new face, as in Immich.
        jobs::JobRequest barrier = make_request(jobs::job::kFacialRecognitionQueueAll, {{"force", false}});
        barrier.dedupe_key = std::string(jobs::job::kFacialRecognitionQueueAll);
        auto queued = queue.enqueue(c, barrier);
        if (!queued) return queued.error();
        for (FaceId id : inserted_ids) {
          auto job = queue.enqueue(
              c, make_request(jobs::job::kFacialRecognition, {{"id", id}, {"deferred", false}}));
          if (!job) return job.error();
        }
      }
      return library::set_job_status(c, asset_id, library::JobStatusColumn::kFacesRecognized, now);
    });
    if (!written) return written.error();
    for (FaceId id : removed_ids) index.remove(id);
    if (Status synced = index.sync(fr.model_name); !synced) return synced.error();
    return static_cast<int>(inserted_ids.size());
  }

  Expected<QueueAllReport> queue_detect_faces(std::optional<bool> force) {
    auto config = settings.reload();
    if (!config) return std::move(config).error();
    if (!settings::facial_recognition_enabled(*config)) return QueueAllReport{0, true};
    if (force.value_or(false)) {
      // Reset: every machine-learning face goes (embeddings cascade); manual and exif faces stay.
      Status deleted = db.write([&](store::Connection& c) -> Status {
        return exec(c, "DELETE FROM asset_face WHERE source_type = 'machine-learning'");
      });
      if (!deleted) return deleted.error();
      if (Status reloaded = index.reload(); !reloaded) return reloaded.error();
      auto cleaned = cleanup();
      if (!cleaned) return std::move(cleaned).error();
    }
    const bool missing_only = force.has_value() && !*force;
    std::vector<AssetId> ids;
    Status listed = db.read([&](store::Connection& c) -> Status {
      return query(
          c,
          std::string("SELECT a.id FROM asset a JOIN asset_job_status j ON j.asset_id = a.id "
                      "WHERE a.deleted_at IS NULL AND a.visibility != 'hidden' AND EXISTS (SELECT 1 FROM "
                      "asset_file af WHERE af.asset_id = a.id AND af.type = 'preview')") +
              (missing_only ? " AND j.faces_recognized_at IS NULL" : "") +
              " ORDER BY a.file_created_at DESC, a.id DESC",
          {}, [&](const store::Statement& row) -> Status {
            ids.push_back(row.int64(0));
            return {};
          });
    });
    if (!listed) return listed.error();
    if (Status queued = enqueue_batches(jobs::job::kAssetDetectFaces, ids, {}); !queued)
      return queued.error();
    if (!force.has_value()) {
      auto cleanup_job = queue.enqueue(make_request(jobs::job::kPersonCleanup, nlohmann::json::object()));
      if (!cleanup_job) return std::move(cleanup_job).error();
    }
    return QueueAllReport{static_cast<std::int64_t>(ids.size()), false};
  }

  Status enqueue_batches(std::string_view job, std::span<const std::int64_t> ids,
                         const nlohmann::json& extra) {
    for (std::size_t start = 0; start < ids.size(); start += kQueueBatch) {
      std::vector<jobs::JobRequest> batch;
      for (std::size_t i = start; i < std::min(ids.size(), start + kQueueBatch); ++i) {
        nlohmann::json data = extra.is_object() ? extra : nlohmann::json::object();
        data["id"] = ids[i];
        batch.push_back(make_request(std::string(job), std::move(data), 0));
      }
      if (Status status = queue.enqueue_all(batch); !status) return status;
    }
    return {};
  }

  // --- recognition (FacialRecognition and FacialRecognitionQueueAll) ---
  Expected<RecognitionResult> recognize(FaceId face, bool deferred) {
    detail::SqlRecognitionStore store(db, index,
                                      settings.get().machine_learning.facial_recognition.model_name);
    return people::recognize_face(store, recognition_settings(), face, deferred);
  }

  Expected<std::optional<std::int64_t>> state_last_run(store::Connection& c) const {
    std::optional<std::int64_t> last_run;
    Status status = query(
        c, "SELECT value FROM people_state WHERE key = ?",
        [&](store::Statement& s) { s.bind(1, kRecognitionStateKey); },
        [&](const store::Statement& row) -> Status {
          auto value = nlohmann::json::parse(row.text(0), nullptr, false);
          if (value.is_object() && value.contains("lastRun") && value["lastRun"].is_number_integer()) {
            last_run = value["lastRun"].get<std::int64_t>();
          }
          return {};
        });
    if (!status) return status.error();
    return last_run;
  }

  Expected<QueueAllReport> queue_recognition(bool force, bool nightly) {
    auto config = settings.reload();
    if (!config) return std::move(config).error();
    if (!settings::facial_recognition_enabled(*config)) return QueueAllReport{0, true};
    // The barrier: per-face clustering starts only after thumbnails and detection have drained.
    for (int waited = 0;; ++waited) {
      auto thumbnails = queue.has_active(jobs::queue::kThumbnailGeneration);
      if (!thumbnails) return std::move(thumbnails).error();
      auto detection = queue.has_active(jobs::queue::kFaceDetection);
      if (!detection) return std::move(detection).error();
      if (!*thumbnails && !*detection) break;
      if (waited % 60 == 59) spdlog::info("FacialRecognitionQueueAll: waiting for face detection to finish");
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (nightly) {
      auto newer = db.read([&](store::Connection& c) -> Expected<bool> {
        auto last_run = state_last_run(c);
        if (!last_run) return std::move(last_run).error();
        std::optional<std::int64_t> latest;
        Status status = query(c, "SELECT max(faces_recognized_at) FROM asset_job_status", {},
                              [&](const store::Statement& row) -> Status {
                                if (!row.is_null(0)) latest = row.int64(0);
                                return {};
                              });
        if (!status) return status.error();
        return !*last_run || (latest && *latest >= **last_run);
      });
      if (!newer) return std::move(newer).error();
      if (!*newer) return QueueAllReport{0, true};
    }
    if (force) {
      Status reset = db.write([&](store::Connection& c) -> Status {
        return exec(
            c,
            "UPDATE asset_face SET person_id = NULL, updated_at = ? WHERE source_type = 'machine-learning'",
            [&](store::Statement& s) { s.bind(1, store::now_ms()); });
      });
      if (!reset) return reset.error();
      auto cleaned = cleanup();
      if (!cleaned) return std::move(cleaned).error();
    } else {
      auto status = queue.status(jobs::queue::kFacialRecognition);
      if (!status) return std::move(status).error();
      if (status->counts.waiting > 0 || status->counts.paused > 0) return QueueAllReport{0, true};
    }
    const std::int64_t last_run = store::now_ms();
    std::vector<FaceId> ids;
    Status listed = db.read([&](store::Connection& c) -> Status {
      return query(
          c,
          std::string("SELECT f.id FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE f.deleted_at "
                      "IS NULL AND f.is_visible = 1 AND a.deleted_at IS NULL") +
              (force ? "" : " AND f.source_type = 'machine-learning' AND f.person_id IS NULL") +
              " ORDER BY f.id",
          {}, [&](const store::Statement& row) -> Status {
            ids.push_back(row.int64(0));
            return {};
          });
    });
    if (!listed) return listed.error();
    if (Status queued = enqueue_batches(jobs::job::kFacialRecognition, ids, {{"deferred", false}}); !queued) {
      return queued.error();
    }
    Status saved = db.write([&](store::Connection& c) -> Status {
      return exec(
          c,
          "INSERT INTO people_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
          "excluded.value",
          [&](store::Statement& s) {
            s.bind(1, kRecognitionStateKey).bind(2, nlohmann::json{{"lastRun", last_run}}.dump());
          });
    });
    if (!saved) return saved.error();
    return QueueAllReport{static_cast<std::int64_t>(ids.size()), false};
  }

  // --- thumbnails ---
  Status generate_thumbnail(PersonId person_id) {
    auto source = db.write([&](store::Connection& c) -> Expected<Face> {
      auto person = require_person(c, person_id);
      if (!person) return std::move(person).error();
      std::optional<FaceId> feature = person->feature_face_id;
      if (!feature) {
        if (Status s = refresh_feature_face(c, person_id); !s) return s.error();
        auto refreshed = feature_face_of(c, person_id);
        if (!refreshed) return std::move(refreshed).error();
        feature = *refreshed;
      }
      if (!feature) return not_found("Person " + std::to_string(person_id) + " has no face");
      auto face = find_face(c, *feature);
      if (!face) return std::move(face).error();
      if (!*face) return not_found("The feature face of person " + std::to_string(person_id) + " is gone");
      return **face;
    });
    if (!source) return source.error();
    auto preview = assets.preview_path(source->asset_id);
    if (!preview) return preview.error();
    if (!*preview) {
      // A face can exist before its photo's preview (a manual face on a fresh upload): wait for the
      // thumbnail job (kUnavailable re-queues with backoff) unless the photo will never get a preview.
      auto asset = assets.get(source->asset_id);
      if (!asset) return asset.error();
      const bool coming = *asset && !(*asset)->deleted_at_ms &&
                          ((*asset)->status == library::AssetStatus::kPending ||
                           (*asset)->status == library::AssetStatus::kReady);
      const auto message = "Asset " + std::to_string(source->asset_id) + " has no preview";
      return coming ? Error{ErrorKind::kUnavailable, message + " yet"} : not_found(message);
    }
    const std::filesystem::path relative = std::filesystem::path("thumbs") / "people" /
                                           std::to_string(person_id % 100) /
                                           (std::to_string(person_id) + ".jpeg");
    Status written = write_person_thumbnail(**preview, source->box, source->image_width, source->image_height,
                                            options.data_dir / relative, options.thumbnail_size,
                                            options.thumbnail_quality);
    if (!written) return written;
    return db.write([&](store::Connection& c) -> Status {
      return exec(c, "UPDATE person SET thumbnail_path = ?, updated_at = ? WHERE id = ?",
                  [&](store::Statement& s) {
                    s.bind(1, relative.string()).bind(2, store::now_ms()).bind(3, person_id);
                  });
    });
  }

  void register_handlers() {
    using jobs::Job;
    using jobs::JobOutcome;
    queue.register_handler(jobs::job::kAssetDetectFaces, jobs::queue::kFaceDetection,
                           [this](const Job& job) -> Expected<JobOutcome> {
                             auto id = json_int(job.data, "id");
                             if (!id) return job_error(id.error(), job.name);
                             auto found = detect_faces(*id);
                             if (!found) return job_error(found.error(), job.name);
                             return JobOutcome::kSuccess;
                           });
    queue.register_handler(jobs::job::kAssetDetectFacesQueueAll, jobs::queue::kFaceDetection,
                           [this](const Job& job) -> Expected<JobOutcome> {
                             auto report = queue_detect_faces(json_bool(job.data, "force"));
                             if (!report) return report.error();
                             return report->skipped ? JobOutcome::kSkipped : JobOutcome::kSuccess;
                           });
    queue.register_handler(
        jobs::job::kFacialRecognition, jobs::queue::kFacialRecognition,
        [this](const Job& job) -> Expected<JobOutcome> {
          auto id = json_int(job.data, "id");
          if (!id) return job_error(id.error(), job.name);
          const bool deferred = json_bool(job.data, "deferred").value_or(false);
          auto result = recognize(*id, deferred);
          if (!result) return job_error(result.error(), job.name);
          switch (result->outcome) {
            case RecognitionOutcome::kDeferred: {
              auto again = queue.enqueue(make_request(job.name, {{"id", *id}, {"deferred", true}}, 0));
              if (!again) return again.error();
              return JobOutcome::kSkipped;
            }
            case RecognitionOutcome::kCreatedPerson: {
              auto thumb = queue.enqueue(thumbnail_job(*result->person_id));
              if (!thumb) return thumb.error();
              return JobOutcome::kSuccess;
            }
            case RecognitionOutcome::kJoinedPerson:
            case RecognitionOutcome::kLeftUnassigned:
              return JobOutcome::kSuccess;
            default:
              return JobOutcome::kSkipped;
          }
        });
    queue.register_handler(jobs::job::kFacialRecognitionQueueAll, jobs::queue::kFacialRecognition,
                           [this](const Job& job) -> Expected<JobOutcome> {
                             auto report = queue_recognition(json_bool(job.data, "force").value_or(false),
                                                             json_bool(job.data, "nightly").value_or(false));
                             if (!report) return report.error();
                             return report->skipped ? JobOutcome::kSkipped : JobOutcome::kSuccess;
                           });
    queue.register_handler(jobs::job::kPersonCleanup, jobs::queue::kBackgroundTask,
                           [this](const Job&) -> Expected<JobOutcome> {
                             auto removed = cleanup();
                             if (!removed) return removed.error();
                             return JobOutcome::kSuccess;
                           });
    queue.register_handler(jobs::job::kPersonGenerateThumbnail, jobs::queue::kThumbnailGeneration,
                           [this](const Job& job) -> Expected<JobOutcome> {
                             auto id = json_int(job.data, "id");
                             if (!id) return job_error(id.error(), job.name);
                             if (Status s = generate_thumbnail(*id); !s)
                               return job_error(s.error(), job.name);
                             return JobOutcome::kSuccess;
                           });
  }
};

PeopleService::PeopleService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PeopleService::~PeopleService() = default;

Expected<std::unique_ptr<PeopleService>> PeopleService::create(store::Database& db, jobs::JobQueue& queue,
                                                               settings::SettingsStore& settings,
                                                               ml::MlClient& ml,
                                                               const library::AssetRepository& assets,
                                                               PeopleOptions options) {
  auto impl = std::make_unique<Impl>(db, queue, settings, ml, assets, std::move(options));
  const std::string model = settings.get().machine_learning.facial_recognition.model_name;
  // Embeddings stored before face_search named their model came from the model configured then; adopting
  // them for the one configured now keeps an existing library's people working after the upgrade.
  Status adopted = db.write([&](store::Connection& c) {
    return exec(c, "UPDATE face_search SET model = ? WHERE model = ''",
                [&](store::Statement& s) { s.bind(1, std::string_view(model)); });
  });
  if (!adopted) return adopted.error();
  if (Status loaded = impl->index.sync(model); !loaded) return loaded.error();
  impl->register_handlers();
  return std::unique_ptr<PeopleService>(new PeopleService(std::move(impl)));
}

Expected<int> PeopleService::detect_faces(AssetId asset) { return impl_->detect_faces(asset); }
Expected<QueueAllReport> PeopleService::queue_detect_faces(std::optional<bool> force) {
  return impl_->queue_detect_faces(force);
}
Expected<RecognitionResult> PeopleService::recognize_face(FaceId face, bool deferred) {
  return impl_->recognize(face, deferred);
}
Expected<QueueAllReport> PeopleService::queue_recognition(bool force, bool nightly) {
  return impl_->queue_recognition(force, nightly);
}
Expected<std::int64_t> PeopleService::cleanup() { return impl_->cleanup(); }
Status PeopleService::generate_thumbnail(PersonId person) { return impl_->generate_thumbnail(person); }

}  // namespace focal::people

// --- people operations ---
namespace focal::people {
namespace {

Status validate_fields(const PersonUpdate& fields) {
  if (fields.birth_date && !fields.birth_date->empty()) {
    if (!detail::is_valid_date(*fields.birth_date))
      return bad_request("birthDate must be a date (YYYY-MM-DD)");
    if (*fields.birth_date > detail::date_of_ms(store::now_ms())) {
      return bad_request("Birth date cannot be in the future");
    }
  }
  if (fields.name && fields.name->size() > 1000) return bad_request("name must be at most 1000 characters");
  if (fields.color && fields.color->size() > 64) return bad_request("color must be at most 64 characters");
  return {};
}

}  // namespace

Expected<PeoplePage> PeopleService::list(OwnerId owner, const PeopleQuery& q) const {
  if (q.page < 1) return bad_request("page must be at least 1");
  if (q.size < 1 || q.size > 1000) return bad_request("size must be between 1 and 1000");
  return impl_->db.read([&](store::Connection& c) -> Expected<PeoplePage> {
    PeoplePage page;
    Status status = query(
        c,
        "SELECT count(*), coalesce(sum(p.is_hidden), 0) FROM person p JOIN (" + std::string(kCountedFaces) +
            ") counts ON counts.person_id = p.id WHERE p.owner_id = ?",
        [&](store::Statement& s) { s.bind(1, owner); },
        [&](const store::Statement& row) -> Status {
          page.total = row.int64(0);
          page.hidden = row.int64(1);
          return {};
        });
    if (!status) return status.error();
    std::optional<std::vector<float>> reference;
    if (q.closest_person || q.closest_face) {
      std::optional<FaceId> face = q.closest_face;
      if (q.closest_person) {
        auto person = impl_->require_person(c, *q.closest_person, owner);
        if (!person) return std::move(person).error();
        if (!person->feature_face_id) return not_found("Person not found");
        face = person->feature_face_id;
      }
      auto owned = impl_->find_face(c, *face, owner);
      if (!owned) return std::move(owned).error();
      if (!*owned) return not_found("Face not found");
      auto embedding = impl_->face_embedding(c, *face);
      if (!embedding) return std::move(embedding).error();
      if (!*embedding) return not_found("Face not found");
      reference = std::move(*embedding);
    }
    const std::string sql =
        "SELECT " + std::string(kPersonColumns) + ", counts.faces, fs.embedding FROM person p JOIN (" +
        std::string(kCountedFaces) +
        ") counts ON counts.person_id = p.id LEFT JOIN face_search fs ON fs.face_id = p.feature_face_id "
        "WHERE (p.name != '' OR counts.faces >= ?1) AND (?2 = 1 OR p.is_hidden = 0) AND p.owner_id = ?3 "
        "ORDER BY p.is_hidden ASC, p.is_favorite DESC, (p.name = '') ASC, counts.faces DESC, "
        "CASE WHEN p.name = '' THEN 1 ELSE 0 END, p.name COLLATE NOCASE ASC, p.created_at ASC, p.id ASC";
    std::vector<std::pair<Person, double>> rows;
    status = query(
        c, sql,
        [&](store::Statement& s) { s.bind(1, q.min_faces).bind(2, q.with_hidden ? 1 : 0).bind(3, owner); },
        [&](const store::Statement& row) -> Status {
          double distance = 0;
          if (reference) {
            // Another face model's embedding (another size) is not comparable: such people sort last.
            const std::vector<float> embedding = row.floats(11);
            distance = embedding.size() == reference->size() ? cosine_distance(*reference, embedding) : 3.0;
          }
          rows.emplace_back(person_of_row(row, impl_->options.data_dir, 10), distance);
          return {};
        });
    if (!status) return status.error();
    if (reference) {
      std::stable_sort(rows.begin(), rows.end(),
                       [](const auto& a, const auto& b) { return a.second < b.second; });
    }
    const std::size_t offset = static_cast<std::size_t>(q.page - 1) * static_cast<std::size_t>(q.size);
    for (std::size_t i = offset; i < rows.size() && i < offset + static_cast<std::size_t>(q.size); ++i) {
      page.people.push_back(std::move(rows[i].first));
    }
    page.has_next_page = rows.size() > offset + static_cast<std::size_t>(q.size);
    return page;
  });
}

Expected<Person> PeopleService::get(OwnerId owner, PersonId id) const {
  return impl_->db.read([&](store::Connection& c) { return impl_->require_person(c, id, owner); });
}

Expected<Person> PeopleService::create_person(OwnerId owner, const PersonUpdate& fields) {
  if (Status valid = validate_fields(fields); !valid) return valid.error();
  if (fields.feature_face_asset_id) return bad_request("A new person has no faces to feature");
  auto id = impl_->db.write([&](store::Connection& c) -> Expected<PersonId> {
    const std::int64_t now = store::now_ms();
    Status status =
        exec(c,
             "INSERT INTO person (created_at, updated_at, name, birth_date, is_hidden, is_favorite, color, "
             "owner_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
             [&](store::Statement& s) {
               s.bind(1, now).bind(2, now).bind(3, std::string_view(fields.name.value_or("")));
               if (fields.birth_date && !fields.birth_date->empty()) {
                 s.bind(4, std::string_view(*fields.birth_date));
               } else {
                 s.bind(4, nullptr);
               }
               s.bind(5, fields.is_hidden.value_or(false) ? 1 : 0);
               s.bind(6, fields.is_favorite.value_or(false) ? 1 : 0);
               if (fields.color && !fields.color->empty()) {
                 s.bind(7, std::string_view(*fields.color));
               } else {
                 s.bind(7, nullptr);
               }
               s.bind(8, owner);
             });
    if (!status) return status.error();
    return c.last_insert_rowid();
  });
  if (!id) return std::move(id).error();
  return get(owner, *id);
}

Expected<Person> PeopleService::update(OwnerId owner, PersonId id, const PersonUpdate& fields) {
  if (Status valid = validate_fields(fields); !valid) return valid.error();
  Status written = impl_->db.write([&](store::Connection& c) -> Status {
    auto person = impl_->require_person(c, id, owner);
    if (!person) return person.error();
    const std::int64_t now = store::now_ms();
    auto set_text = [&](std::string_view column, const std::optional<std::string>& value,
                        bool empty_is_null) -> Status {
      if (!value) return {};
      return exec(c, "UPDATE person SET " + std::string(column) + " = ?, updated_at = ? WHERE id = ?",
                  [&](store::Statement& s) {
                    if (empty_is_null && value->empty()) {
                      s.bind(1, nullptr);
                    } else {
                      s.bind(1, std::string_view(*value));
                    }
                    s.bind(2, now).bind(3, id);
                  });
    };
    auto set_flag = [&](std::string_view column, std::optional<bool> value) -> Status {
      if (!value) return {};
      return exec(c, "UPDATE person SET " + std::string(column) + " = ?, updated_at = ? WHERE id = ?",
                  [&](store::Statement& s) { s.bind(1, *value ? 1 : 0).bind(2, now).bind(3, id); });
    };
    for (Status s : {set_text("name", fields.name, false), set_text("birth_date", fields.birth_date, true),
                     set_text("color", fields.color, true), set_flag("is_hidden", fields.is_hidden),
                     set_flag("is_favorite", fields.is_favorite)}) {
      if (!s) return s;
    }
    if (fields.feature_face_asset_id) {
      std::optional<FaceId> face;
      Status status = query(
          c,
          "SELECT f.id FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE f.person_id = ? AND "
          "f.asset_id = ? "
          "AND f.deleted_at IS NULL AND a.deleted_at IS NULL AND a.status != 'offline' ORDER BY f.id LIMIT 1",
          [&](store::Statement& s) { s.bind(1, id).bind(2, *fields.feature_face_asset_id); },
          [&](const store::Statement& row) -> Status {
            face = row.int64(0);
            return {};
          });
      if (!status) return status;
      if (!face) return bad_request("Invalid assetId for feature face or asset is offline");
      status = exec(c, "UPDATE person SET feature_face_id = ?, updated_at = ? WHERE id = ?",
                    [&](store::Statement& s) { s.bind(1, *face).bind(2, now).bind(3, id); });
      if (!status) return status;
      auto queued = impl_->queue.enqueue(c, impl_->thumbnail_job(id));
      if (!queued) return queued.error();
    }
    return {};
  });
  if (!written) return written.error();
  return get(owner, id);
}

Status PeopleService::remove(OwnerId owner, PersonId id) {
  return impl_->db.write([&](store::Connection& c) -> Status {
    auto person = impl_->require_person(c, id, owner);
    if (!person) return person.error();
    const PersonId ids[] = {id};
    return impl_->delete_people(c, ids);
  });
}

Expected<std::vector<MergeResult>> PeopleService::merge(OwnerId owner, PersonId target,
                                                        std::span<const PersonId> sources) {
  if (std::find(sources.begin(), sources.end(), target) != sources.end()) {
    return bad_request("Cannot merge a person into themselves");
  }
  auto exists = get(owner, target);
  if (!exists) return std::move(exists).error();
  std::vector<MergeResult> results;
  for (PersonId source : sources) {
    Status merged = impl_->db.write([&](store::Connection& c) -> Status {
      auto from = impl_->require_person(c, source, owner);
      if (!from) return from.error();
      auto into = impl_->require_person(c, target, owner);
      if (!into) return into.error();
      const std::int64_t now = store::now_ms();
      if (into->name.empty() && !from->name.empty()) {
        Status s =
            exec(c, "UPDATE person SET name = ?, updated_at = ? WHERE id = ?", [&](store::Statement& st) {
              st.bind(1, std::string_view(from->name)).bind(2, now).bind(3, target);
            });
        if (!s) return s;
      }
      if (!into->birth_date && from->birth_date) {
        Status s = exec(c, "UPDATE person SET birth_date = ?, updated_at = ? WHERE id = ?",
                        [&](store::Statement& st) {
                          st.bind(1, std::string_view(*from->birth_date)).bind(2, now).bind(3, target);
                        });
        if (!s) return s;
      }
      Status moved = exec(c, "UPDATE asset_face SET person_id = ?, updated_at = ? WHERE person_id = ?",
                          [&](store::Statement& st) { st.bind(1, target).bind(2, now).bind(3, source); });
      if (!moved) return moved;
      const PersonId gone[] = {source};
      if (Status s = impl_->delete_people(c, gone); !s) return s;
      return impl_->fix_feature_faces(c, target, {}, {});
    });
    if (merged) {
      results.push_back({source, MergeStatus::kSuccess, ""});
    } else if (merged.error().kind == ErrorKind::kNotFound) {
      results.push_back({source, MergeStatus::kNotFound, merged.error().message});
    } else {
      results.push_back({source, MergeStatus::kFailed, merged.error().message});
    }
  }
  return results;
}

Expected<std::int64_t> PeopleService::asset_count(OwnerId owner, PersonId id) const {
  return impl_->db.read([&](store::Connection& c) -> Expected<std::int64_t> {
    auto person = impl_->require_person(c, id, owner);
    if (!person) return std::move(person).error();
    std::int64_t count = 0;
    Status status = query(
        c,
        "SELECT count(DISTINCT f.asset_id) FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE "
        "f.person_id = ? "
        "AND f.deleted_at IS NULL AND f.is_visible = 1 AND a.deleted_at IS NULL AND a.visibility = "
        "'timeline'",
        [&](store::Statement& s) { s.bind(1, id); },
        [&](const store::Statement& row) -> Status {
          count = row.int64(0);
          return {};
        });
    if (!status) return status.error();
    return count;
  });
}

Expected<std::filesystem::path> PeopleService::thumbnail(OwnerId owner, PersonId id) const {
  auto person = get(owner, id);
  if (!person) return std::move(person).error();
  if (person->thumbnail_path.empty() || !std::filesystem::exists(person->thumbnail_path)) {
    return not_found("Person " + std::to_string(id) + " has no thumbnail");
  }
  return std::filesystem::path(person->thumbnail_path);
}

Expected<std::vector<Person>> PeopleService::search_by_name(OwnerId owner, std::string_view name,
                                                            bool with_hidden) const {
  std::string pattern = "%";
  for (char ch : name) {
    if (ch == '%' || ch == '_' || ch == '\\') pattern += '\\';
    pattern += ch;
  }
  pattern += '%';
  return impl_->db.read([&](store::Connection& c) -> Expected<std::vector<Person>> {
    std::vector<Person> out;
    Status status = query(
        c,
        "SELECT " + std::string(kPersonColumns) + ", counts.faces FROM person p LEFT JOIN (" +
            std::string(kCountedFaces) +
            ") counts ON counts.person_id = p.id WHERE p.name != '' AND p.name LIKE ? ESCAPE '\\' "
            "AND (? = 1 OR p.is_hidden = 0) AND p.owner_id = ? ORDER BY length(p.name), p.name, p.id LIMIT "
            "100",
        [&](store::Statement& s) {
          s.bind(1, std::string_view(pattern)).bind(2, with_hidden ? 1 : 0).bind(3, owner);
        },
        [&](const store::Statement& row) -> Status {
          out.push_back(person_of_row(row, impl_->options.data_dir, 10));
          return {};
        });
    if (!status) return status.error();
    return out;
  });
}

Expected<std::vector<Face>> PeopleService::faces_of_asset(OwnerId owner, AssetId asset) const {
  return impl_->db.read([&](store::Connection& c) -> Expected<std::vector<Face>> {
    bool owned = false;
    Status found = query(
        c, "SELECT 1 FROM asset WHERE id = ? AND owner_id = ?",
        [&](store::Statement& s) { s.bind(1, asset).bind(2, owner); },
        [&](const store::Statement&) -> Status {
          owned = true;
          return {};
        });
    if (!found) return found.error();
    if (!owned) return not_found("Asset " + std::to_string(asset) + " not found");
    std::vector<Face> out;
    Status status = query(
        c,
        "SELECT " + std::string(kFaceColumns) +
            " FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE f.asset_id = ? AND a.owner_id = ? "
            "AND f.deleted_at IS NULL AND f.is_visible = 1 ORDER BY f.x1, f.id",
        [&](store::Statement& s) { s.bind(1, asset).bind(2, owner); },
        [&](const store::Statement& row) -> Status {
          out.push_back(face_of_row(row));
          return {};
        });
    if (!status) return status.error();
    return out;
  });
}

Expected<std::vector<Face>> PeopleService::unassigned_faces(OwnerId owner, int limit) const {
  return impl_->db.read([&](store::Connection& c) -> Expected<std::vector<Face>> {
    std::vector<Face> out;
    Status status = query(
        c,
        "SELECT " + std::string(kFaceColumns) +
            " FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE f.person_id IS NULL AND a.owner_id = "
            "? "
            "AND f.deleted_at IS NULL AND f.is_visible = 1 AND a.deleted_at IS NULL "
            "ORDER BY f.id DESC LIMIT ?",
        [&](store::Statement& s) { s.bind(1, owner).bind(2, std::max(limit, 0)); },
        [&](const store::Statement& row) -> Status {
          out.push_back(face_of_row(row));
          return {};
        });
    if (!status) return status.error();
    return out;
  });
}

Expected<Face> PeopleService::face(OwnerId owner, FaceId id) const {
  return impl_->db.read([&](store::Connection& c) -> Expected<Face> {
    auto found = impl_->find_face(c, id, owner);
    if (!found) return std::move(found).error();
    if (!*found) return not_found("Face not found");
    return **found;
  });
}

Expected<Face> PeopleService::reassign_face(OwnerId owner, FaceId face_id, PersonId person) {
  Status written = impl_->db.write([&](store::Connection& c) -> Status {
    auto target = impl_->require_person(c, person, owner);
    if (!target) return target.error();
    auto found = impl_->find_face(c, face_id, owner);
    if (!found) return found.error();
    if (!*found) return not_found("Face not found");
    const std::optional<PersonId> previous = (*found)->person_id;
    Status moved =
        exec(c, "UPDATE asset_face SET person_id = ?, updated_at = ? WHERE id = ?",
             [&](store::Statement& s) { s.bind(1, person).bind(2, store::now_ms()).bind(3, face_id); });
    if (!moved) return moved;
    std::vector<PersonId> sources;
    if (previous) sources.push_back(*previous);
    const FaceId moved_ids[] = {face_id};
    return impl_->fix_feature_faces(c, person, sources, moved_ids);
  });
  if (!written) return written.error();
  return face(owner, face_id);
}

Status PeopleService::remove_face(OwnerId owner, FaceId face_id) {
  return impl_->db.write([&](store::Connection& c) -> Status {
    auto found = impl_->find_face(c, face_id, owner);
    if (!found) return found.error();
    if (!*found) return not_found("Face not found");
    const std::optional<PersonId> previous = (*found)->person_id;
    Status removed =
        exec(c, "UPDATE asset_face SET deleted_at = ?1, person_id = NULL, updated_at = ?1 WHERE id = ?2",
             [&](store::Statement& s) { s.bind(1, store::now_ms()).bind(2, face_id); });
    if (!removed || !previous) return removed;
    auto feature = impl_->feature_face_of(c, *previous);
    if (!feature) return feature.error();
    if (*feature && **feature != face_id) return {};
    return impl_->refresh_feature_face(c, *previous);
  });
}

Expected<Person> PeopleService::reassign_face_to_new_person(OwnerId owner, FaceId face_id) {
  auto found = face(owner, face_id);
  if (!found) return std::move(found).error();
  auto person = create_person(owner, PersonUpdate{});
  if (!person) return std::move(person).error();
  auto moved = reassign_face(owner, face_id, person->id);
  if (!moved) return std::move(moved).error();
  return get(owner, person->id);
}

Expected<std::vector<PersonId>> PeopleService::reassign(OwnerId owner, PersonId target,
                                                        std::span<const std::pair<PersonId, AssetId>> pairs) {
  std::vector<PersonId> affected;
  Status written = impl_->db.write([&](store::Connection& c) -> Status {
    auto into = impl_->require_person(c, target, owner);
    if (!into) return into.error();
    std::vector<FaceId> moved;
    std::vector<PersonId> sources;
    for (const auto& pair : pairs) {
      const PersonId person = pair.first;
      const AssetId asset = pair.second;
      auto from = impl_->require_person(c, person, owner);  // another user's person is not found
      if (!from) return from.error();
      Status status = query(
          c, "SELECT id FROM asset_face WHERE person_id = ? AND asset_id = ? AND deleted_at IS NULL",
          [&](store::Statement& s) { s.bind(1, person).bind(2, asset); },
          [&](const store::Statement& row) -> Status {
            moved.push_back(row.int64(0));
            return {};
          });
      if (!status) return status;
      status =
          exec(c, "UPDATE asset_face SET person_id = ?, updated_at = ? WHERE person_id = ? AND asset_id = ?",
               [&](store::Statement& s) {
                 s.bind(1, target).bind(2, store::now_ms()).bind(3, person).bind(4, asset);
               });
      if (!status) return status;
      if (std::find(sources.begin(), sources.end(), person) == sources.end()) sources.push_back(person);
    }
    affected = sources;
    affected.push_back(target);
    return impl_->fix_feature_faces(c, target, sources, moved);
  });
  if (!written) return written.error();
  return affected;
}

Expected<std::unordered_set<AssetId>> PeopleService::assets_with_people(
    std::optional<OwnerId> owner, std::span<const PersonId> people) const {
  std::vector<PersonId> unique(people.begin(), people.end());
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  return impl_->db.read([&](store::Connection& c) -> Expected<std::unordered_set<AssetId>> {
    for (PersonId id : unique) {
      auto person = impl_->find_person(c, id, owner);
      if (!person) return std::move(person).error();
      if (!*person) return not_found("Person " + std::to_string(id) + " not found");
    }
    std::unordered_set<AssetId> out;
    if (unique.empty()) return out;
    Status status = query(
        c,
        "SELECT f.asset_id FROM asset_face f WHERE f.person_id IN (SELECT value FROM json_each(?1)) "
        "AND f.deleted_at IS NULL AND f.is_visible = 1 GROUP BY f.asset_id "
        "HAVING count(DISTINCT f.person_id) = ?2",
        [&](store::Statement& s) {
          s.bind(1, json_ids(unique)).bind(2, static_cast<std::int64_t>(unique.size()));
        },
        [&](const store::Statement& row) -> Status {
          out.insert(row.int64(0));
          return {};
        });
    if (!status) return status.error();
    return out;
  });
}

Status PeopleService::adopt_unowned(OwnerId fallback) {
  return impl_->db.write([&](store::Connection& c) -> Status {
    Status status =
        exec(c,
             "UPDATE person SET owner_id = coalesce((SELECT a.owner_id FROM asset_face f JOIN asset a "
             "ON a.id = f.asset_id WHERE f.person_id = person.id AND a.owner_id != 0 LIMIT 1), ?) "
             "WHERE owner_id = 0",
             [&](store::Statement& s) { s.bind(1, fallback); });
    return status;
  });
}

}  // namespace focal::people
