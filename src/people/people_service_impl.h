// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal: PeopleService's state, shared by the files that implement it: people_store.cpp (the SQL reads
// and writes of people and faces), people_jobs.cpp (detection, recognition and thumbnail jobs) and
// people_service.cpp (the operations behind the people API).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "jobs/jobs.h"
#include "library/library.h"
#include "ml_client/ml_client.h"
#include "people/face_index.h"
#include "people/people.h"
#include "settings/settings.h"
#include "store/database.h"

namespace focal::people {
namespace detail {

inline constexpr std::string_view kFaceColumns =
    "f.id, f.asset_id, f.person_id, f.image_width, f.image_height, f.x1, f.y1, f.x2, f.y2, f.source_type, "
    "f.score, EXISTS (SELECT 1 FROM face_search fs WHERE fs.face_id = f.id)";
inline constexpr std::string_view kPersonColumns =
    "p.id, p.name, p.birth_date, p.is_hidden, p.is_favorite, p.color, p.thumbnail_path, p.feature_face_id, "
    "p.created_at, p.updated_at";
// Faces that count for people, as in Immich: non-deleted, visible, on non-deleted timeline assets.
inline constexpr std::string_view kCountedFaces =
    "SELECT f.person_id AS person_id, count(*) AS faces FROM asset_face f JOIN asset a ON a.id = f.asset_id "
    "WHERE f.person_id IS NOT NULL AND f.deleted_at IS NULL AND f.is_visible = 1 AND a.deleted_at IS NULL "
    "AND a.visibility = 'timeline' GROUP BY f.person_id";

Face face_of_row(const store::Statement& row);
Person person_of_row(const store::Statement& row, const std::filesystem::path& data_dir, int count_column);
jobs::JobRequest make_request(std::string_view name, nlohmann::json data, int priority = 0);

}  // namespace detail

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
        index(database, {options.face_index_exact_threshold, options.pgvector}) {}

  RecognitionSettings recognition_settings() const;

  jobs::JobRequest thumbnail_job(PersonId person) const;

  // --- reads ---
  // `owner` set: only that user's person (another user's id is not found).
  Expected<std::optional<Person>> find_person(store::Connection& c, PersonId id,
                                              std::optional<OwnerId> owner = std::nullopt) const;

  Expected<Person> require_person(store::Connection& c, PersonId id,
                                  std::optional<OwnerId> owner = std::nullopt) const;

  Expected<std::optional<Face>> find_face(store::Connection& c, FaceId id,
                                          std::optional<OwnerId> owner = std::nullopt) const;

  Expected<std::optional<std::vector<float>>> face_embedding(store::Connection& c, FaceId id) const;

  // --- feature faces (Immich's createNewFeaturePhoto) ---
  // Gives `person` a feature face (any visible, non-deleted face; the lowest id for determinism) and queues
  // its thumbnail; clears it when the person has no face left.
  Status refresh_feature_face(store::Connection& c, PersonId person);

  Expected<std::optional<FaceId>> feature_face_of(store::Connection& c, PersonId person) const;

  // After faces moved: the target gets a feature face if it has none; a source whose feature face moved away
  // gets a new one.
  Status fix_feature_faces(store::Connection& c, PersonId target, std::span<const PersonId> sources,
                           std::span<const FaceId> moved);

  Status delete_people(store::Connection& c, std::span<const PersonId> ids);

  Expected<std::int64_t> cleanup();

  // --- face detection (Immich's AssetDetectFaces) ---
  // One face model's embeddings all have one size; a model whose output size changed (its files were
  // replaced) is refused rather than mixed in, since clustering could not compare them.
  static Status check_embedding_size(store::Connection& c, const std::string& model, std::size_t size);

  // The face's embedding from `model`, replacing one from another model (never a second
  // embedding row for one face). The replacement is a new row, so other processes' indexes see it.
  Status store_embedding(store::Connection& c, FaceId face, const std::string& model,
                         std::span<const float> embedding) const;

  Expected<int> detect_faces(AssetId asset_id);

  Expected<QueueAllReport> queue_detect_faces(std::optional<bool> force);

  Status enqueue_batches(std::string_view job, std::span<const std::int64_t> ids,
                         const nlohmann::json& extra);

  // --- recognition (FacialRecognition and FacialRecognitionQueueAll) ---
  Expected<RecognitionResult> recognize(FaceId face, bool deferred);

  Expected<std::optional<std::int64_t>> state_last_run(store::Connection& c) const;

  Expected<QueueAllReport> queue_recognition(bool force, bool nightly);

  // --- thumbnails ---
  Status generate_thumbnail(PersonId person_id);

  void register_handlers();
};

}  // namespace focal::people
