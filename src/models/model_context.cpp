// SPDX-License-Identifier: AGPL-3.0-or-later
#include "models/model_context.h"

namespace focal {

SessionConfig ModelContext::session_for(const ModelKey& key, const std::string& device_id) const {
  SessionConfig config = session;
  config.device.device_id = device_id;
  const auto batching_it = batching.find({key.task, key.type});
  if (batching_it != batching.end()) {
    config.batching = batching_it->second;
    if (batch_observer) config.on_batch = batch_observer(key);
  }
  return config;
}

Expected<ModelLocation> find_cached_model(const ModelContext& context, Task task, ModelType type,
                                          std::string_view clean_name, std::string_view requested_name) {
  auto location = locate_model(context.cache_folder, task, type, clean_name);
  if (!location) return location;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(location->model_file, ec) && context.fetch_missing) {
    if (auto fetched = context.fetch_missing(task, clean_name, requested_name, *location); !fetched)
      return fetched.error();
  }
  if (!std::filesystem::is_regular_file(location->model_file, ec)) {
    return Error{ErrorKind::kUnavailable, "Model '" + std::string(requested_name) +
                                              "' is not in the model cache (expected " +
                                              location->model_file.string() + ")"};
  }
  return location;
}

ModelContext with_registry(const ModelContext& context) {
  ModelContext out = context;
  if (!out.registry) {
    RegistryOptions options;
    options.ttl = std::chrono::seconds(0);
    out.registry = std::make_shared<ModelRegistry>(options);
  }
  return out;
}

}  // namespace focal
