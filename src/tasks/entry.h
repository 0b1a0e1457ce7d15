// SPDX-License-Identifier: AGPL-3.0-or-later
// One parsed /predict entry: what a task handler is asked to run. ml_server parses them from the wire.
#pragma once

#include <optional>
#include <string>

#include "models/model_name.h"

namespace focal {

struct EntryOptions {
  std::optional<float> min_score;         // facial-recognition.detection, ocr.*
  std::optional<std::string> language;    // clip.textual (NLLB prefix)
  std::optional<int> max_resolution;      // ocr.detection
  std::optional<std::string> score_mode;  // ocr.detection: fast | slow
};

struct Entry {
  Task task = Task::kClip;
  ModelType type = ModelType::kVisual;
  std::string model_name;  // as requested (the in-memory cache key uses it)
  std::string clean_name;  // the on-disk name
  ModelSource source = ModelSource::kOpenClip;
  EntryOptions options;

  // Phase-2 entries consume the output of (detection, same task).
  bool has_dependency() const { return type == ModelType::kRecognition; }
};

}  // namespace focal
