// SPDX-License-Identifier: AGPL-3.0-or-later
// Facial recognition: Immich's incremental, DBSCAN-like clustering of face embeddings into people.
//
// The algorithm runs one face at a time (the facialRecognition queue has concurrency 1, so there are no races
// creating duplicate people) against a RecognitionStore: the face's k nearest neighbours within maxDistance
// decide whether it is a core point (>= minFaces neighbours, itself included, on a timeline asset) that may
// start a person, a border point that joins the nearest reachable person, or an outlier that stays
// unassigned. Non-core faces are deferred once to the tail of the queue so that core faces create their
// people first.
//
// The store is an interface so that the algorithm is tested on synthetic embeddings with known ground truth
// (tests/people) and runs on SQLite + a vector index in production (people_store).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"

namespace focal::people {

using FaceId = std::int64_t;
using PersonId = std::int64_t;
using AssetId = std::int64_t;

enum class FaceSource { kMachineLearning, kExif, kManual };
std::string_view to_string(FaceSource source);
std::optional<FaceSource> face_source_from_string(std::string_view text);

// machineLearning.facialRecognition.{enabled, minFaces, maxDistance}.
struct RecognitionSettings {
  bool enabled = true;
  int min_faces = 3;
  double max_distance = 0.5;
};

// What the per-face job needs to know about one face.
struct FaceForRecognition {
  FaceId id = 0;
  AssetId asset_id = 0;
  FaceSource source = FaceSource::kMachineLearning;
  std::optional<PersonId> person_id;
  std::vector<float> embedding;    // empty: no face_search row
  bool asset_on_timeline = false;  // visibility == timeline: only those seed people
  std::string asset_date;          // 'YYYY-MM-DD' the photo was taken (fileCreatedAt); "" when unknown
  std::int64_t owner_id = 0;       // the asset's owner: faces only ever cluster with the same owner's faces
};

struct FaceMatch {
  FaceId face_id = 0;
  std::optional<PersonId> person_id;
  double distance = 0;  // cosine distance, 1 - cos
};

// One face k-NN query (Immich's searchFaces plus the filters it lacks: the store only ever returns
// non-deleted, visible faces on non-deleted assets that are not hidden or locked).
struct FaceQuery {
  std::span<const float> embedding;
  int k = 1;
  double max_distance = 0.5;
  bool has_person = false;  // only faces that have a person
  // Exclude faces whose person was born after this date ('YYYY-MM-DD'); empty: no filter.
  std::string min_birth_date;
  std::optional<std::int64_t> owner_id;  // only faces on this user's assets
};

class RecognitionStore {
 public:
  virtual ~RecognitionStore() = default;
  // nullopt when the face or its asset does not exist.
  virtual Expected<std::optional<FaceForRecognition>> load_face(FaceId id) = 0;
  // The k nearest faces then the threshold: ordered by distance, at most k, every distance <= max_distance.
  virtual Expected<std::vector<FaceMatch>> search_faces(const FaceQuery& query) = 0;
  // Creates an unnamed person whose feature face is `feature_face` and returns its id.
  virtual Expected<PersonId> create_person(FaceId feature_face) = 0;
  virtual Status assign_face(FaceId face, PersonId person) = 0;
};

enum class RecognitionOutcome {
  kSkippedDisabled,   // feature off
  kSkippedNotMl,      // manual or exif face
  kSkippedHasPerson,  // already assigned
  kSkippedOutlier,    // nothing within maxDistance but itself: stays unassigned, not deferred
  kDeferred,          // non-core on its first pass: the caller re-enqueues {id, deferred: true} at the tail
  kJoinedPerson,      // assigned to an existing person
  kCreatedPerson,     // a core face started a new person (the caller queues its thumbnail)
  kLeftUnassigned,    // non-core on its deferred pass with no reachable person
};
std::string_view to_string(RecognitionOutcome outcome);

struct RecognitionResult {
  RecognitionOutcome outcome = RecognitionOutcome::kSkippedDisabled;
  std::optional<PersonId> person_id;  // set for kJoinedPerson and kCreatedPerson
};

// The FacialRecognition{id, deferred} job body. Errors: kNotFound (face or asset missing),
// kUnprocessable (no embedding), or whatever the store returns.
Expected<RecognitionResult> recognize_face(RecognitionStore& store, const RecognitionSettings& settings,
                                           FaceId face_id, bool deferred);

// Cosine distance 1 - a·b / (|a||b|) (ArcFace embeddings are not normalised). 1 when either is
// zero.
double cosine_distance(std::span<const float> a, std::span<const float> b);

}  // namespace focal::people
