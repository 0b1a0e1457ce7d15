// SPDX-License-Identifier: AGPL-3.0-or-later
// SCRFD face detector, as in Immich: letterbox to the graph's input size (640x640 when H/W are dynamic),
// one ORT Run, decode of the 6/9/10/15-output layouts, minScore threshold per call, NMS, rounded boxes.
#pragma once

#include <filesystem>
#include <memory>

#include "faces/ops.h"
#include "infer/session.h"

namespace focal {

// Per-stage wall time of one call, for the benchmark.
struct FaceDetectTimings {
  double preprocess_ms = 0;
  double run_ms = 0;
  double postprocess_ms = 0;
};

class FaceDetector {
 public:
  static Expected<std::unique_ptr<FaceDetector>> load(OrtRuntime& runtime,
                                                      const std::filesystem::path& model_file,
                                                      const SessionConfig& session_config);

  // Thread-safe. Faces in descending score order.
  Expected<DetectedFaces> detect(const RgbImage& image, float min_score,
                                 FaceDetectTimings* timings = nullptr) const;

  int input_width() const { return input_width_; }
  int input_height() const { return input_height_; }
  const faces::ScrfdLayout& layout() const { return layout_; }

 private:
  FaceDetector() = default;
  std::unique_ptr<InferenceSession> session_;
  faces::ScrfdLayout layout_;
  int input_width_ = 640;
  int input_height_ = 640;
};

}  // namespace focal
