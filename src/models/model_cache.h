// SPDX-License-Identifier: AGPL-3.0-or-later
// Immich's on-disk model cache layout:
//   <cache folder>/<task>/<clean name>/<type>/model.onnx
// except OCR detectors, which every language shares: ocr/<clean name without "LANG__">/detection/model.onnx.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "models/model_name.h"

namespace focal {

struct ModelLocation {
  std::filesystem::path cache_dir;   // <root>/<task>/<clean name>: config.json lives here for CLIP
  std::filesystem::path model_dir;   // cache_dir/<type>: per-EP caches and tokenizer/preprocess files
  std::filesystem::path model_file;  // model_dir/model.onnx
};

// `clean_name` must come from validate_model_name. Re-checks that the result stays inside `cache_root`.
Expected<ModelLocation> locate_model(const std::filesystem::path& cache_root, Task task, ModelType type,
                                     std::string_view clean_name);

// A model folder found in the cache: <root>/<task>/<name> with the types whose model.onnx is present.
struct CachedModel {
  Task task = Task::kClip;
  std::string name;
  std::vector<ModelType> types;  // in the order of model_types(task)
  std::uint64_t bytes = 0;       // every regular file under the folder
};

// Every model folder under `cache_root`, by task then name; folders of unknown tasks are not models.
std::vector<CachedModel> list_cached_models(const std::filesystem::path& cache_root);

}  // namespace focal
