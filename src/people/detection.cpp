// SPDX-License-Identifier: AGPL-3.0-or-later
#include "people/detection.h"

#include <algorithm>
#include <cmath>

namespace focal::people {

double iou(const Box& a, const Box& b) {
  const double area_a = std::max(0, a.x2 - a.x1) * static_cast<double>(std::max(0, a.y2 - a.y1));
  const double area_b = std::max(0, b.x2 - b.x1) * static_cast<double>(std::max(0, b.y2 - b.y1));
  if (area_a <= 0 || area_b <= 0) return 0;
  const double w = std::max(0, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const double h = std::max(0, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const double inter = w * h;
  return inter / (area_a + area_b - inter);
}

Box scale_box(const Box& box, int from_w, int from_h, int to_w, int to_h) {
  if (from_w <= 0 || from_h <= 0 || to_w <= 0 || to_h <= 0) return box;
  const double sx = static_cast<double>(to_w) / from_w;
  const double sy = static_cast<double>(to_h) / from_h;
  auto fit = [](double v, int hi) { return std::clamp(static_cast<int>(std::lround(v)), 0, hi); };
  return Box{fit(box.x1 * sx, to_w), fit(box.y1 * sy, to_h), fit(box.x2 * sx, to_w), fit(box.y2 * sy, to_h)};
}

ReconcilePlan reconcile_faces(std::span<const StoredFace> existing, std::span<const DetectedFace> detected,
                              int detection_width, int detection_height, int target_width,
                              int target_height) {
  if (target_width <= 0 || target_height <= 0) {
    target_width = detection_width;
    target_height = detection_height;
  }
  std::vector<Box> stored_boxes;
  stored_boxes.reserve(existing.size());
  for (const StoredFace& face : existing) {
    stored_boxes.push_back(
        scale_box(face.box, face.image_width, face.image_height, target_width, target_height));
  }
  std::vector<bool> claimed(existing.size(), false);
  ReconcilePlan plan;
  for (const DetectedFace& found : detected) {
    const Box box = scale_box(found.box, detection_width, detection_height, target_width, target_height);
    // A box with no area inside the image (only a broken or synthetic detector reports one) cannot be shown,
    // cropped into a person thumbnail or reviewed: it is not kept as a face.
    if (box.x2 <= box.x1 || box.y2 <= box.y1) continue;
    std::optional<std::size_t> match;
    for (std::size_t i = 0; i < existing.size(); ++i) {
      if (!claimed[i] && iou(box, stored_boxes[i]) > 0.5) {
        match = i;
        break;
      }
    }
    if (!match) {
      plan.insert.push_back(NewFace{box, target_width, target_height, found.score, found.embedding});
      continue;
    }
    claimed[*match] = true;
    const StoredFace& face = existing[*match];
    if (face.source == FaceSource::kMachineLearning) plan.kept.push_back(face.id);
    if (!face.has_embedding) plan.attach_embedding.emplace_back(face.id, found.embedding);
  }
  for (std::size_t i = 0; i < existing.size(); ++i) {
    if (!claimed[i] && existing[i].source == FaceSource::kMachineLearning)
      plan.remove.push_back(existing[i].id);
  }
  return plan;
}

}  // namespace focal::people
