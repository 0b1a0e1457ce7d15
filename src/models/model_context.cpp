#include "models/model_context.h"

namespace focal {

Expected<ModelLocation> find_cached_model(const ModelContext& context, Task task, ModelType type,
                                          std::string_view clean_name, std::string_view requested_name) {
  auto location = locate_model(context.cache_folder, task, type, clean_name);
  if (!location) return location;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(location->model_file, ec)) {
    return Error{ErrorKind::kUnavailable, "Model '" + std::string(requested_name) +
                                              "' is not in the model cache (expected " +
                                              location->model_file.string() + ")"};
  }
  return location;
}

}  // namespace focal
