// SPDX-License-Identifier: AGPL-3.0-or-later
#include "tasks/model_tasks.h"

#include <spdlog/spdlog.h>

namespace focal {

ModelTasks::ModelTasks(TaskRegistry& tasks, const ModelContext& context)
    : tasks_(tasks), loader_context_(with_registry(context)) {
  models_ = loader_context_.registry;
  loader_context_.registry.reset();
}

ModelKey ModelTasks::model_key(const Entry& entry) {
  return {entry.task, entry.type, entry.clean_name, entry.model_name};
}

Error ModelTasks::missing_dependency(const Entry& entry) {
  return internal_error(std::string(to_string(entry.task)) + "." + std::string(to_string(entry.type)) +
                        " ran without detection output");
}

Expected<ModelLocation> ModelTasks::find_model_to_load(const ModelContext& context, const ModelKey& key,
                                                       std::string_view what) {
  auto location = find_cached_model(context, key.task, key.type, key.clean_name, key.requested_name);
  if (location) spdlog::info("Loading {} model '{}' to memory", what, key.requested_name);
  return location;
}

}  // namespace focal
