// SPDX-License-Identifier: AGPL-3.0-or-later
#include "people/recognition.h"

#include <cmath>
#include <string>

#include "core/logging.h"

namespace focal::people {

std::string_view to_string(FaceSource source) {
  switch (source) {
    case FaceSource::kMachineLearning:
      return "machine-learning";
    case FaceSource::kExif:
      return "exif";
    case FaceSource::kManual:
      return "manual";
  }
  return "machine-learning";
}

std::optional<FaceSource> face_source_from_string(std::string_view text) {
  if (text == "machine-learning") return FaceSource::kMachineLearning;
  if (text == "exif") return FaceSource::kExif;
  if (text == "manual") return FaceSource::kManual;
  return std::nullopt;
}

std::string_view to_string(RecognitionOutcome outcome) {
  switch (outcome) {
    case RecognitionOutcome::kSkippedDisabled:
      return "skipped (disabled)";
    case RecognitionOutcome::kSkippedNotMl:
      return "skipped (not a machine-learning face)";
    case RecognitionOutcome::kSkippedHasPerson:
      return "skipped (already assigned)";
    case RecognitionOutcome::kSkippedOutlier:
      return "skipped (outlier)";
    case RecognitionOutcome::kDeferred:
      return "deferred";
    case RecognitionOutcome::kJoinedPerson:
      return "joined person";
    case RecognitionOutcome::kCreatedPerson:
      return "created person";
    case RecognitionOutcome::kLeftUnassigned:
      return "left unassigned";
  }
  return "unknown";
}

double cosine_distance(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size() || a.empty()) return 1.0;
  double dot = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  if (na <= 0 || nb <= 0) return 1.0;
  return 1.0 - dot / std::sqrt(na * nb);
}

Expected<RecognitionResult> recognize_face(RecognitionStore& store, const RecognitionSettings& settings,
                                           FaceId face_id, bool deferred) {
  if (!settings.enabled) return RecognitionResult{RecognitionOutcome::kSkippedDisabled, {}};
  auto loaded = store.load_face(face_id);
  if (!loaded) return std::move(loaded).error();
  if (!loaded->has_value()) return not_found("Face " + std::to_string(face_id) + " or its asset not found");
  const FaceForRecognition& face = **loaded;
  if (face.source != FaceSource::kMachineLearning)
    return RecognitionResult{RecognitionOutcome::kSkippedNotMl, {}};
  if (face.embedding.empty()) return unprocessable("Face " + std::to_string(face_id) + " has no embedding");
  if (face.person_id) return RecognitionResult{RecognitionOutcome::kSkippedHasPerson, face.person_id};

  const int min_faces = std::max(settings.min_faces, 1);
  // k = minFaces as upstream; the face itself is normally its own nearest match.
  FaceQuery query{face.embedding, min_faces, settings.max_distance, false, face.asset_date, face.owner_id};
  auto matches = store.search_faces(query);
  if (!matches) return std::move(matches).error();
  // Count the face itself once whether or not the store returned it (the store filters faces on hidden or
  // locked assets, which may include this one), so the core test does not depend on the face's own
  // visibility.
  std::vector<FaceMatch> others;
  for (const FaceMatch& match : *matches) {
    if (match.face_id != face.id) others.push_back(match);
  }
  if (static_cast<int>(others.size()) > min_faces - 1) others.resize(static_cast<std::size_t>(min_faces - 1));
  const int neighbourhood = 1 + static_cast<int>(others.size());

  if (min_faces > 1 && neighbourhood <= 1) return RecognitionResult{RecognitionOutcome::kSkippedOutlier, {}};
  const bool is_core = neighbourhood >= min_faces && face.asset_on_timeline;
  if (!is_core && !deferred) return RecognitionResult{RecognitionOutcome::kDeferred, {}};

  std::optional<PersonId> person;
  for (const FaceMatch& match : others) {
    if (match.person_id) {
      person = match.person_id;
      break;
    }
  }
  if (!person) {
    // The nearest assigned face beyond the k window.
    FaceQuery nearest{face.embedding, 1, settings.max_distance, true, face.asset_date, face.owner_id};
    auto assigned = store.search_faces(nearest);
    if (!assigned) return std::move(assigned).error();
    for (const FaceMatch& match : *assigned) {
      if (match.face_id != face.id && match.person_id) {
        person = match.person_id;
        break;
      }
    }
  }
  if (person) {
    if (Status status = store.assign_face(face.id, *person); !status) return status.error();
    return RecognitionResult{RecognitionOutcome::kJoinedPerson, person};
  }
  if (!is_core) return RecognitionResult{RecognitionOutcome::kLeftUnassigned, {}};
  spdlog::debug("Creating new person for face {}", face.id);
  auto created = store.create_person(face.id);
  if (!created) return std::move(created).error();
  if (Status status = store.assign_face(face.id, *created); !status) return status.error();
  return RecognitionResult{RecognitionOutcome::kCreatedPerson, *created};
}

}  // namespace focal::people
