// What a model family needs to load models: the process's ORT runtime, the session settings derived from the
// configuration, and the Immich model cache.
#pragma once

#include <filesystem>
#include <string_view>

#include "infer/session.h"
#include "models/model_cache.h"

namespace focal {

struct ModelContext {
  OrtRuntime* runtime = nullptr;
  SessionConfig session;
  std::filesystem::path cache_folder;
};

// The model's files in the cache, or 503 naming the missing file (models are not downloaded yet).
Expected<ModelLocation> find_cached_model(const ModelContext& context, Task task, ModelType type,
                                          std::string_view clean_name, std::string_view requested_name);

}  // namespace focal
