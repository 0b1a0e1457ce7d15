// SPDX-License-Identifier: AGPL-3.0-or-later
#include "models/model_cache.h"

#include <algorithm>

namespace focal {

Expected<ModelLocation> locate_model(const std::filesystem::path& cache_root, Task task, ModelType type,
                                     std::string_view clean_name) {
  // OCR names carry the recognition language as a prefix ("EN__PP-OCRv5_mobile"); every language of one size
  // shares the one detector, stored under the name without the prefix.
  if (task == Task::kOcr && type == ModelType::kDetection) {
    if (const auto sep = clean_name.find("__"); sep != std::string_view::npos && sep + 2 < clean_name.size())
      clean_name.remove_prefix(sep + 2);
  }
  if (clean_name.empty() || clean_name.find_first_of("/\\") != std::string_view::npos || clean_name == "." ||
      clean_name == "..") {
    return unprocessable("Model name '" + std::string(clean_name) + "' is not a valid cache directory name");
  }
  const auto root = cache_root.lexically_normal();
  ModelLocation loc;
  loc.cache_dir = (root / std::string(to_string(task)) / std::string(clean_name)).lexically_normal();
  loc.model_dir = loc.cache_dir / std::string(to_string(type));
  loc.model_file = loc.model_dir / "model.onnx";
  // Defence in depth: names are validated before this, but never hand out a path outside the cache.
  const auto rel = loc.cache_dir.lexically_relative(root);
  const bool inside = !rel.empty() && std::none_of(rel.begin(), rel.end(), [](const auto& part) {
    return part == ".." || part == ".";
  }) && std::distance(rel.begin(), rel.end()) == 2;
  if (!inside)
    return unprocessable("Model name '" + std::string(clean_name) + "' resolves outside the model cache");
  return loc;
}

std::vector<CachedModel> list_cached_models(const std::filesystem::path& cache_root) {
  namespace fs = std::filesystem;
  std::vector<CachedModel> out;
  for (const Task task : {Task::kClip, Task::kFacialRecognition, Task::kOcr}) {
    std::error_code ec;
    const fs::path task_dir = cache_root / std::string(to_string(task));
    std::vector<fs::path> folders;
    for (const auto& entry : fs::directory_iterator(task_dir, ec)) {
      if (entry.is_directory(ec)) folders.push_back(entry.path());
    }
    std::sort(folders.begin(), folders.end());
    for (const auto& folder : folders) {
      CachedModel model{task, folder.filename().string(), {}, 0};
      for (const ModelType type : model_types(task)) {
        if (fs::is_regular_file(folder / std::string(to_string(type)) / "model.onnx", ec))
          model.types.push_back(type);
      }
      // Symbolic links are followed (a cache may link model files from elsewhere) but never left.
      for (auto it = fs::recursive_directory_iterator(folder, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) model.bytes += it->file_size(ec);
      }
      out.push_back(std::move(model));
    }
  }
  return out;
}

}  // namespace focal
