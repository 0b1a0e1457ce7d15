// SPDX-License-Identifier: AGPL-3.0-or-later
// Face detection reconciliation (Immich's IoU > 0.5 matching, two upstream bugs fixed, see reconcile_faces):
// what to insert, update and delete when an asset's detection result arrives, given the faces already stored
// for it. Pure, so re-runs ("Refresh") are tested without a database.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "people/people.h"

namespace focal::people {

struct StoredFace {
  FaceId id = 0;
  FaceSource source = FaceSource::kMachineLearning;
  Box box;  // in image_width x image_height pixels
  int image_width = 0;
  int image_height = 0;
  bool has_embedding = false;
};

struct DetectedFace {
  Box box;  // in the detection's image (the preview)
  double score = 0;
  std::vector<float> embedding;
};

struct NewFace {
  Box box;  // in target pixels
  int image_width = 0;
  int image_height = 0;
  double score = 0;
  std::vector<float> embedding;
};

struct ReconcilePlan {
  std::vector<NewFace> insert;
  // Existing faces (manual/exif ones without an embedding) that acquire the detected embedding.
  std::vector<std::pair<FaceId, std::vector<float>>> attach_embedding;
  std::vector<FaceId> kept;    // ML faces re-detected: row and embedding unchanged
  std::vector<FaceId> remove;  // ML faces not re-detected (e.g. now below minScore)
  bool changed() const { return !insert.empty() || !attach_embedding.empty() || !remove.empty(); }
};

// Boxes are compared in the target space (the asset's displayed size; the detection's size when that is
// unknown): each stored face is scaled from its own image size and each detected face from the preview's, so
// the comparison is right whatever size the preview had when the stored face was made (upstream multiplies by
// the first face's ratio instead). A stored face matches at most one detection (upstream could
// insert a second embedding for one face and abort the job).
ReconcilePlan reconcile_faces(std::span<const StoredFace> existing, std::span<const DetectedFace> detected,
                              int detection_width, int detection_height, int target_width, int target_height);

// Intersection over union of two boxes (0 when either is empty).
double iou(const Box& a, const Box& b);
// `box` (in from_w x from_h) scaled to to_w x to_h, rounded, clamped to the target image.
Box scale_box(const Box& box, int from_w, int from_h, int to_w, int to_h);

}  // namespace focal::people
