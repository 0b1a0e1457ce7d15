// SPDX-License-Identifier: AGPL-3.0-or-later
// What a model family needs to load models: the process's ORT runtime, the session settings derived from the
// configuration, the Immich model cache, and the registry that owns loaded models (lifecycle, devices).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <utility>

#include "infer/session.h"
#include "models/model_cache.h"
#include "models/model_registry.h"

namespace focal {

struct ModelContext {
  OrtRuntime* runtime = nullptr;
  SessionConfig session;  // device_id is replaced per device by session_for
  std::filesystem::path cache_folder;
  // Shared by every handler; handlers register their loaders with it. Null: the handler registration makes a
  // private one (one device, no TTL), which is what unit tests want.
  std::shared_ptr<ModelRegistry> registry;
  // FOCAL_ML_BATCH__<TASK>__<TYPE>; absent: no dynamic batching.
  std::map<std::pair<Task, ModelType>, BatchingConfig> batching;
  // Metrics hook for batch sizes, per model; optional.
  std::function<BatchObserver(const ModelKey&)> batch_observer;
  // Called by find_cached_model when the model file is missing (focal-ml wires the hub downloader, src/hub);
  // unset: a missing model is a 503.
  std::function<Status(Task, std::string_view clean_name, std::string_view requested_name,
                       const ModelLocation&)>
      fetch_missing;

  // The session settings for `key` on one device.
  SessionConfig session_for(const ModelKey& key, const std::string& device_id) const;
};

// The model's files in the cache, or 503 naming the missing file. This is where a model that is not cached
// yet gets downloaded (the hub hook); every loader goes through it.
Expected<ModelLocation> find_cached_model(const ModelContext& context, Task task, ModelType type,
                                          std::string_view clean_name, std::string_view requested_name);

// `context` with a registry (a private one when it has none).
ModelContext with_registry(const ModelContext& context);

}  // namespace focal
