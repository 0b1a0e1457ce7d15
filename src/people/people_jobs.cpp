// SPDX-License-Identifier: AGPL-3.0-or-later
// PeopleService's jobs: face detection, recognition (per face and queue-all), person thumbnails, and the
// service's construction, which registers their handlers.
#include <algorithm>
#include <thread>

#include "core/logging.h"
#include "core/storage.h"
#include "people/detection.h"
#include "people/people_service_impl.h"
#include "people/thumbnail.h"
#include "store/query.h"

namespace focal::people {

using detail::make_request;
using store::exec;
using store::for_each_row;
using store::json_ids;
using store::query;

namespace {

constexpr int kQueueBatch = 1000;  // JOBS_ASSET_PAGINATION_SIZE
constexpr std::string_view kRecognitionStateKey = "facial-recognition-state";

// The job's error names its job, so the failed job (kept until cleared) says what went wrong; the queue
// decides from the kind: retried (kUnavailable), kept queued (kStorageFull), or failed.
Error job_error(const Error& error, std::string_view job) {
  return {error.kind, std::string(job) + ": " + error.message};
}

}  // namespace

RecognitionSettings PeopleService::Impl::recognition_settings() const {
  const settings::SystemConfig config = settings.get();
  const auto& fr = config.machine_learning.facial_recognition;
  return RecognitionSettings{settings::facial_recognition_enabled(config), fr.min_faces, fr.max_distance};
}

Status PeopleService::Impl::check_embedding_size(store::Connection& c, const std::string& model,
                                                 std::size_t size) {
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

Status PeopleService::Impl::store_embedding(store::Connection& c, FaceId face, const std::string& model,
                                            std::span<const float> embedding) const {
  Status status = exec(c, "DELETE FROM face_search WHERE face_id = ?1 AND model != ?2", face, model);
  if (!status) return status;
  status = exec(c,
                "INSERT INTO face_search (face_id, embedding, model, dim) VALUES (?1, ?2, ?3, ?4) "
                "ON CONFLICT (face_id) DO NOTHING",
                face, store::Floats{embedding}, model, embedding.size());
  if (!status || c.changes() == 0) return status;  // an existing row keeps its embedding and vector
  return index.store_vector(c, face, embedding);
}

Expected<int> PeopleService::Impl::detect_faces(AssetId asset_id) {
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
    auto existing = query(
        c,
        "SELECT f.id, f.source_type, f.x1, f.y1, f.x2, f.y2, f.image_width, f.image_height, "
        "EXISTS (SELECT 1 FROM face_search fs WHERE fs.face_id = f.id AND fs.model = ?2) "
        "FROM asset_face f WHERE f.asset_id = ?1 ORDER BY f.id",
        [](const store::Statement& row) {
          return StoredFace{row.int64(0),
                            face_source_from_string(row.text(1)).value_or(FaceSource::kManual),
                            Box{static_cast<int>(row.int64(2)), static_cast<int>(row.int64(3)),
                                static_cast<int>(row.int64(4)), static_cast<int>(row.int64(5))},
                            static_cast<int>(row.int64(6)),
                            static_cast<int>(row.int64(7)),
                            row.int64(8) != 0};
        },
        asset_id, fr.model_name);
    if (!existing) return existing.error();
    if (!detection->faces.empty()) {
      if (Status same_size =
              check_embedding_size(c, fr.model_name, detection->faces.front().embedding.size());
          !same_size)
        return same_size;
    }
    const ReconcilePlan plan = reconcile_faces(*existing, detected, detection->image_width,
                                               detection->image_height, (*asset)->width, (*asset)->height);
    const std::int64_t now = store::now_ms();
    Status status;
    if (!plan.remove.empty()) {
      status = exec(c, "DELETE FROM asset_face WHERE id IN " + store::id_list(c, "?"), json_ids(plan.remove));
      if (!status) return status;
      removed_ids = plan.remove;
      spdlog::info("Removed {} faces below detection threshold in asset {}", plan.remove.size(), asset_id);
    }
    for (const NewFace& face : plan.insert) {
      status = exec(
          c,
          "INSERT INTO asset_face (asset_id, image_width, image_height, x1, y1, x2, y2, score, "
          "source_type, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'machine-learning', ?, ?)",
          asset_id, face.image_width, face.image_height, face.box.x1, face.box.y1, face.box.x2, face.box.y2,
          face.score, now, now);
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
        auto job =
            queue.enqueue(c, make_request(jobs::job::kFacialRecognition, {{"id", id}, {"deferred", false}}));
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

Expected<QueueAllReport> PeopleService::Impl::queue_detect_faces(std::optional<bool> force) {
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
  auto ids = db.read([&](store::Connection& c) {
    return query<AssetId>(c,
                          std::string("SELECT a.id FROM asset a JOIN asset_job_status j ON j.asset_id = a.id "
                                      "WHERE a.deleted_at IS NULL AND a.visibility != 'hidden' AND EXISTS "
                                      "(SELECT 1 FROM asset_file af WHERE af.asset_id = a.id AND af.type = "
                                      "'preview')") +
                              (missing_only ? " AND j.faces_recognized_at IS NULL" : "") +
                              " ORDER BY a.file_created_at DESC, a.id DESC");
  });
  if (!ids) return std::move(ids).error();
  if (Status queued = enqueue_batches(jobs::job::kAssetDetectFaces, *ids, {}); !queued) return queued.error();
  if (!force.has_value()) {
    auto cleanup_job = queue.enqueue(make_request(jobs::job::kPersonCleanup, nlohmann::json::object()));
    if (!cleanup_job) return std::move(cleanup_job).error();
  }
  return QueueAllReport{static_cast<std::int64_t>(ids->size()), false};
}

Status PeopleService::Impl::enqueue_batches(std::string_view job, std::span<const std::int64_t> ids,
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

Expected<RecognitionResult> PeopleService::Impl::recognize(FaceId face, bool deferred) {
  detail::SqlRecognitionStore store(db, index, settings.get().machine_learning.facial_recognition.model_name);
  return people::recognize_face(store, recognition_settings(), face, deferred);
}

Expected<std::optional<std::int64_t>> PeopleService::Impl::state_last_run(store::Connection& c) const {
  std::optional<std::int64_t> last_run;
  Status status = for_each_row(
      c, "SELECT value FROM people_state WHERE key = ?",
      [&](const store::Statement& row) {
        auto value = nlohmann::json::parse(row.text(0), nullptr, false);
        if (value.is_object() && value.contains("lastRun") && value["lastRun"].is_number_integer()) {
          last_run = value["lastRun"].get<std::int64_t>();
        }
      },
      kRecognitionStateKey);
  if (!status) return status.error();
  return last_run;
}

Expected<QueueAllReport> PeopleService::Impl::queue_recognition(bool force, bool nightly) {
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
      auto latest = store::query_value<std::optional<std::int64_t>>(
          c, "SELECT max(faces_recognized_at) FROM asset_job_status");
      if (!latest) return std::move(latest).error();
      return !*last_run || (*latest && **latest >= **last_run);
    });
    if (!newer) return std::move(newer).error();
    if (!*newer) return QueueAllReport{0, true};
  }
  if (force) {
    Status reset = db.write([&](store::Connection& c) -> Status {
      return exec(
          c, "UPDATE asset_face SET person_id = NULL, updated_at = ? WHERE source_type = 'machine-learning'",
          store::now_ms());
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
  auto ids = db.read([&](store::Connection& c) {
    return query<FaceId>(
        c, std::string("SELECT f.id FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE f.deleted_at "
                       "IS NULL AND f.is_visible = 1 AND a.deleted_at IS NULL") +
               (force ? "" : " AND f.source_type = 'machine-learning' AND f.person_id IS NULL") +
               " ORDER BY f.id");
  });
  if (!ids) return std::move(ids).error();
  if (Status queued = enqueue_batches(jobs::job::kFacialRecognition, *ids, {{"deferred", false}}); !queued) {
    return queued.error();
  }
  Status saved = db.write([&](store::Connection& c) -> Status {
    return exec(c,
                "INSERT INTO people_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
                "excluded.value",
                kRecognitionStateKey, nlohmann::json{{"lastRun", last_run}}.dump());
  });
  if (!saved) return saved.error();
  return QueueAllReport{static_cast<std::int64_t>(ids->size()), false};
}

Status PeopleService::Impl::generate_thumbnail(PersonId person_id) {
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
  Status written =
      write_person_thumbnail(**preview, source->box, source->image_width, source->image_height,
                             options.data_dir / relative, options.thumbnail_size, options.thumbnail_quality);
  if (!written) return written;
  return db.write([&](store::Connection& c) -> Status {
    return exec(c, "UPDATE person SET thumbnail_path = ?, updated_at = ? WHERE id = ?", relative.string(),
                store::now_ms(), person_id);
  });
}

void PeopleService::Impl::register_handlers() {
  using jobs::Job;
  using jobs::JobOutcome;
  queue.register_handler(jobs::job::kAssetDetectFaces, jobs::queue::kFaceDetection,
                         [this](const Job& job) -> Expected<JobOutcome> {
                           auto id = job.target_id();
                           if (!id) return id.error();
                           auto found = detect_faces(*id);
                           if (!found) return job_error(found.error(), job.name);
                           return JobOutcome::kSuccess;
                         });
  queue.register_handler(jobs::job::kAssetDetectFacesQueueAll, jobs::queue::kFaceDetection,
                         [this](const Job& job) -> Expected<JobOutcome> {
                           auto report = queue_detect_faces(job.payload().force);
                           if (!report) return report.error();
                           return report->skipped ? JobOutcome::kSkipped : JobOutcome::kSuccess;
                         });
  queue.register_handler(
      jobs::job::kFacialRecognition, jobs::queue::kFacialRecognition,
      [this](const Job& job) -> Expected<JobOutcome> {
        auto id = job.target_id();
        if (!id) return id.error();
        auto result = recognize(*id, job.payload().deferred);
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
                           const jobs::JobPayload payload = job.payload();
                           auto report = queue_recognition(payload.force.value_or(false), payload.nightly);
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
                           auto id = job.target_id();
                           if (!id) return id.error();
                           if (Status s = generate_thumbnail(*id); !s) return job_error(s.error(), job.name);
                           return JobOutcome::kSuccess;
                         });
}

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
    return exec(c, "UPDATE face_search SET model = ? WHERE model = ''", model);
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
