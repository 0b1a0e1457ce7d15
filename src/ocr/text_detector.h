// SPDX-License-Identifier: AGPL-3.0-or-later
// PP-OCR DB text detector: resize so the shorter side is at most maxResolution (sides rounded to multiples of
// 32, Pillow Lanczos), one ORT Run, DB post-processing (ocr/geometry.h), boxes in reading order.
#pragma once

#include <filesystem>
#include <memory>

#include "image/decode.h"
#include "infer/session.h"
#include "tasks/output.h"

namespace focal {

struct TextDetectOptions {
  float min_score = 0.5F;    // box threshold
  int max_resolution = 736;  // target of the shorter side; never upscaled
  bool slow_score = false;   // scoreMode "slow"
};

class TextDetector {
 public:
  static Expected<std::unique_ptr<TextDetector>> load(OrtRuntime& runtime,
                                                      const std::filesystem::path& model_file,
                                                      const SessionConfig& session_config);

  // Thread-safe.
  Expected<DetectedText> detect(const RgbImage& image, const TextDetectOptions& options) const;

 private:
  TextDetector() = default;
  std::unique_ptr<InferenceSession> session_;
};

}  // namespace focal
