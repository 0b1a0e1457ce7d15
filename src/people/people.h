// SPDX-License-Identifier: AGPL-3.0-or-later
// People, as in Immich: faces detected in photos, clustered into people (people/recognition.h) that users
// name, merge, hide and search by.
//
// Schema of component "people" (only this component writes these tables; others may read them). Timestamps
// are ms since the Unix epoch; boxes are integer pixels of the image (image_width x image_height) they refer
// to — for machine-learning faces the asset's displayed size (the preview's boxes are scaled up
// to it).
// Every person belongs to one user (owner_id, the owner of its faces' assets); the people operations take the
// caller's id and treat other users' people and faces as unknown (404), and faces only cluster with faces of
// the same owner.
//
//   person(id INTEGER PRIMARY KEY AUTOINCREMENT, owner_id INTEGER NOT NULL, created_at, updated_at,
//          name TEXT NOT NULL DEFAULT '',
//          birth_date TEXT NULL ('YYYY-MM-DD', never in the future), is_hidden INTEGER, is_favorite INTEGER,
//          color TEXT NULL, thumbnail_path TEXT NOT NULL DEFAULT '' (relative to the data dir),
//          feature_face_id INTEGER NULL REFERENCES asset_face ON DELETE SET NULL)
//   asset_face(id INTEGER PRIMARY KEY AUTOINCREMENT, asset_id REFERENCES asset ON DELETE CASCADE,
//              person_id INTEGER NULL REFERENCES person ON DELETE SET NULL, image_width, image_height,
//              x1, y1, x2, y2 INTEGER, score REAL, source_type TEXT ('machine-learning' | 'exif' | 'manual'),
//              is_visible INTEGER NOT NULL DEFAULT 1, deleted_at INTEGER NULL, created_at, updated_at)
//   face_search(seq INTEGER PRIMARY KEY AUTOINCREMENT, face_id INTEGER UNIQUE REFERENCES asset_face ON DELETE
//               CASCADE, embedding BLOB (dim float32), model TEXT (the face model that produced it), dim INTEGER)
//               -- seq lets other processes' inserts be picked up; only the configured model's rows cluster
//   people_state(key TEXT PRIMARY KEY, value TEXT)     -- 'facial-recognition-state' = {"lastRun": ms}
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/error.h"
#include "people/recognition.h"

namespace focal::store {
class Database;
}
namespace focal::jobs {
class JobQueue;
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

namespace focal::people {

using OwnerId = std::int64_t;

// Migrations of component "people" (after "library": asset_face references asset).
Status migrate(store::Database& db);

struct Box {
  int x1 = 0;
  int y1 = 0;
  int x2 = 0;
  int y2 = 0;
  bool operator==(const Box&) const = default;
};

struct Face {
  FaceId id = 0;
  AssetId asset_id = 0;
  std::optional<PersonId> person_id;
  int image_width = 0;
  int image_height = 0;
  Box box;
  FaceSource source = FaceSource::kMachineLearning;
  double score = 0;
  bool has_embedding = false;
};

struct Person {
  PersonId id = 0;
  std::string name;
  std::optional<std::string> birth_date;  // 'YYYY-MM-DD'
  bool is_hidden = false;
  bool is_favorite = false;
  std::optional<std::string> color;
  std::string thumbnail_path;  // absolute when generated, "" otherwise
  std::optional<FaceId> feature_face_id;
  std::int64_t face_count = 0;  // non-deleted, visible faces on non-deleted timeline assets
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
};

// GET /people, with Immich's filters and order.
struct PeopleQuery {
  bool with_hidden = false;
  int min_faces = 3;  // unnamed people with fewer faces are left out (people.minimumFaces)
  int page = 1;       // >= 1
  int size = 500;     // 1..1000
  std::optional<PersonId> closest_person;  // order by distance to this person's feature face
  std::optional<FaceId> closest_face;      // order by distance to this face
};

struct PeoplePage {
  std::vector<Person> people;
  std::int64_t total = 0;   // people with >= 1 face on a timeline asset (hidden included)
  std::int64_t hidden = 0;  // of those, hidden
  bool has_next_page = false;
};

// Fields to change; unset fields stay. birth_date/color: an empty string clears them.
struct PersonUpdate {
  std::optional<std::string> name;
  std::optional<std::string> birth_date;
  std::optional<bool> is_hidden;
  std::optional<bool> is_favorite;
  std::optional<std::string> color;
  std::optional<AssetId> feature_face_asset_id;  // the person's face in this asset becomes the feature face
};

enum class MergeStatus { kSuccess, kNotFound, kFailed };
std::string_view to_string(MergeStatus status);  // "success", "not_found", "unknown"
struct MergeResult {
  PersonId id = 0;
  MergeStatus status = MergeStatus::kSuccess;
  std::string error;
};

struct PeopleOptions {
  std::filesystem::path data_dir;  // person thumbnails go under <data_dir>/thumbs/people
  int thumbnail_size = 250;        // FACE_THUMBNAIL_SIZE
  int thumbnail_quality = 80;
  std::size_t face_index_exact_threshold = 20000;  // exact face k-NN below this many faces, HNSW above
  // FOCAL_VECTOR_INDEX=pgvector: face vectors in the PostgreSQL library's pgvector extension, shared by
  // every process, instead of an index in each process's memory.
  bool pgvector = false;
};

// Counts of a FacialRecognitionQueueAll / AssetDetectFacesQueueAll run (for the CLI and tests).
struct QueueAllReport {
  std::int64_t queued = 0;
  bool skipped = false;
};

class PeopleService {
 public:
  // `db` must be migrated (library, jobs, settings, people); every argument outlives the service. Loads the
  // face index and registers the handlers of AssetDetectFaces(+QueueAll), FacialRecognition(+QueueAll),
  // PersonCleanup and PersonGenerateThumbnail on `queue`.
  static Expected<std::unique_ptr<PeopleService>> create(store::Database& db, jobs::JobQueue& queue,
                                                         settings::SettingsStore& settings, ml::MlClient& ml,
                                                         const library::AssetRepository& assets,
                                                         PeopleOptions options);
  ~PeopleService();
  PeopleService(const PeopleService&) = delete;
  PeopleService& operator=(const PeopleService&) = delete;

  // --- people ---
  // Every operation below acts on `owner`'s people and faces only.
  Expected<PeoplePage> list(OwnerId owner, const PeopleQuery& query) const;
  Expected<Person> get(OwnerId owner, PersonId id) const;
  // POST /people: a person without faces (faces are then assigned to it).
  Expected<Person> create_person(OwnerId owner, const PersonUpdate& fields);
  // 400 "Birth date cannot be in the future"; 400 "Invalid assetId for feature face or asset is offline".
  Expected<Person> update(OwnerId owner, PersonId id, const PersonUpdate& fields);
  // Deletes the person and its thumbnail; its faces become unassigned.
  Status remove(OwnerId owner, PersonId id);
  // Moves every face of `sources` to `target` (name and birth date copied when the target has none), deletes
  // the sources. 400 "Cannot merge a person into themselves". Gives the target a feature face if it has none.
  Expected<std::vector<MergeResult>> merge(OwnerId owner, PersonId target, std::span<const PersonId> sources);
  // Distinct non-deleted timeline assets with a visible face of the person.
  Expected<std::int64_t> asset_count(OwnerId owner, PersonId id) const;
  // The person's thumbnail file; kNotFound when none was generated.
  Expected<std::filesystem::path> thumbnail(OwnerId owner, PersonId id) const;
  // People whose name contains `name` (case-insensitive), at most 100.
  Expected<std::vector<Person>> search_by_name(OwnerId owner, std::string_view name, bool with_hidden) const;

  // --- faces ---
  // Non-deleted, visible faces of an asset, ordered by x1.
  Expected<std::vector<Face>> faces_of_asset(OwnerId owner, AssetId asset) const;
  // Faces without a person (non-deleted, visible, on non-deleted assets), newest first.
  Expected<std::vector<Face>> unassigned_faces(OwnerId owner, int limit) const;
  Expected<Face> face(OwnerId owner, FaceId id) const;
  // Assigns one face to `person` (PUT /faces/:personId {id}); feature faces follow Immich's rules.
  Expected<Face> reassign_face(OwnerId owner, FaceId face, PersonId person);
  // Creates a new person for the face and assigns it.
  Expected<Person> reassign_face_to_new_person(OwnerId owner, FaceId face);
  // Removes a face that is not one (DELETE /faces/:id): soft-deleted (deleted_at set, out of its person, its
  // clusters and k-NN), so a re-detection does not bring it back as new; its person's feature face moves on.
  Status remove_face(OwnerId owner, FaceId face);
  // PUT /people/:id/reassign: moves `(person, asset)` pairs' faces to `target`; returns the affected people.
  Expected<std::vector<PersonId>> reassign(OwnerId owner, PersonId target,
                                           std::span<const std::pair<PersonId, AssetId>> person_assets);
  // Assets that contain ALL the given people (the personIds search filter). kNotFound for an unknown person
  // (or, with an owner, one of another user).
  Expected<std::unordered_set<AssetId>> assets_with_people(std::optional<OwnerId> owner,
                                                           std::span<const PersonId> people) const;
  // Gives people without an owner (databases from before ownership) to the owner of their faces' assets, or
  // to `fallback` when they have no face.
  Status adopt_unowned(OwnerId fallback);

  // --- job bodies (the registered handlers call these; exposed for the CLI and tests) ---
  // AssetDetectFaces: 0 = skipped (feature off / hidden), otherwise the number of new faces; kFailed-like
  // outcomes are errors of kind kNotFound (asset or preview missing); kUnavailable when no ML node answered.
  Expected<int> detect_faces(AssetId asset);
  // AssetDetectFacesQueueAll{force}: true = Reset, nullopt = Refresh, false = Missing (Immich's buttons).
  Expected<QueueAllReport> queue_detect_faces(std::optional<bool> force);
  Expected<RecognitionResult> recognize_face(FaceId face, bool deferred);
  // FacialRecognitionQueueAll{force, nightly}, including the wait for detection to drain.
  Expected<QueueAllReport> queue_recognition(bool force, bool nightly);
  // PersonCleanup: deletes people without any non-deleted, visible face (also those with no face rows, which
  // Immich misses). Returns how many.
  Expected<std::int64_t> cleanup();
  Status generate_thumbnail(PersonId person);

 private:
  struct Impl;
  explicit PeopleService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The square crop of a person thumbnail, as in Immich: the face box (in a box_width x box_height image)
// clamped, scaled to the decoded image, grown 10% around its centre and shrunk until the square fits. nullopt
// for an empty box or image.
struct CropRect {
  int left = 0;
  int top = 0;
  int size = 0;
  bool operator==(const CropRect&) const = default;
};
std::optional<CropRect> person_thumbnail_crop(const Box& box, int box_width, int box_height, int image_width,
                                              int image_height);

}  // namespace focal::people
