// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ml_models.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "models/model_cache.h"
#include "models/model_name.h"

namespace focal::app {
namespace {

std::string human_size(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  auto value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

std::string type_list(const std::vector<ModelType>& types) {
  std::string out;
  for (const ModelType type : types) out += (out.empty() ? "" : ",") + std::string(to_string(type));
  return out.empty() ? "-" : out;
}

// The request the service itself would make for (task, type) of `clean_name`.
Expected<ModelRequest> request_for(const std::filesystem::path& cache, Task task, ModelType type,
                                   const std::string& clean_name, const std::string& requested) {
  auto location = locate_model(cache, task, type, clean_name);
  if (!location) return location.error();
  return ModelRequest{task, clean_name, requested, location->cache_dir, location->model_file};
}

int list(const std::filesystem::path& cache, bool with_supported) {
  const auto cached = list_cached_models(cache);
  std::printf("Model cache: %s\n", cache.c_str());
  std::printf("%-20s %-52s %-22s %10s  %s\n", "TASK", "NAME", "TYPES", "SIZE", "SUPPORTED");
  for (const auto& model : cached) {
    std::printf("%-20s %-52s %-22s %10s  %s\n", std::string(to_string(model.task)).c_str(),
                model.name.c_str(), type_list(model.types).c_str(), human_size(model.bytes).c_str(),
                task_of_model(model.name) == model.task ? "yes" : "no");
  }
  if (cached.empty()) std::printf("(no models cached)\n");
  if (!with_supported) return 0;
  for (const Task task : {Task::kClip, Task::kFacialRecognition, Task::kOcr}) {
    std::printf("\nSupported %s models (* cached):\n", std::string(to_string(task)).c_str());
    for (const auto name : supported_model_names(task)) {
      const bool is_cached = std::any_of(cached.begin(), cached.end(), [&](const CachedModel& m) {
        return m.task == task && m.name == name && m.types.size() == model_types(task).size();
      });
      std::printf("  %s %.*s\n", is_cached ? "*" : " ", static_cast<int>(name.size()), name.data());
    }
  }
  return 0;
}

// The task of a name given on the command line: from Immich's lists, else from the cache (other names).
std::optional<Task> task_for(const std::filesystem::path& cache, const std::string& clean_name) {
  if (auto task = task_of_model(clean_name)) return task;
  for (const auto& model : list_cached_models(cache)) {
    if (model.name == clean_name) return model.task;
  }
  return std::nullopt;
}

int download(const std::vector<std::string>& names, const std::filesystem::path& cache,
             const HubConfig& hub) {
  ModelDownloader downloader(hub);
  int exit_code = 0;
  for (const auto& name : names) {
    auto clean = validate_model_name(name, hub.allow_any_model);
    const auto task = clean ? task_of_model(*clean) : std::nullopt;
    if (!clean || !task) {
      std::fprintf(
          stderr, "focal-ml: %s: %s\n", name.c_str(),
          clean ? "not one of Immich's model names, so its task is unknown" : clean.error().message.c_str());
      exit_code = 1;
      continue;
    }
    bool ok = true;
    for (const ModelType type : model_types(*task)) {
      auto request = request_for(cache, *task, type, *clean, name);
      Status fetched = request ? downloader.ensure(*request) : Status(request.error());
      if (!fetched) {
        std::fprintf(stderr, "focal-ml: %s (%s): %s\n", name.c_str(), std::string(to_string(type)).c_str(),
                     fetched.error().message.c_str());
        ok = false;
      }
    }
    if (ok) {
      std::printf("%s: cached in %s\n", name.c_str(),
                  (cache / std::string(to_string(*task)) / *clean).c_str());
    } else {
      exit_code = 1;
    }
  }
  return exit_code;
}

int verify(std::vector<std::string> names, const std::filesystem::path& cache, const HubConfig& hub) {
  if (names.empty()) {
    for (const auto& model : list_cached_models(cache)) names.push_back(model.name);
    if (names.empty()) std::printf("(no models cached)\n");
  }
  ModelDownloader downloader(hub);
  int exit_code = 0;
  for (const auto& name : names) {
    const std::string clean = clean_model_name(name);
    const auto task = task_for(cache, clean);
    if (!task) {
      std::fprintf(stderr, "focal-ml: %s: not in the model cache\n", name.c_str());
      exit_code = 1;
      continue;
    }
    // A hub snapshot is checked once as a whole; an OCR model per type (each file has its own source).
    std::vector<ModelType> types = model_types(*task);
    if (*task != Task::kOcr) types.resize(1);
    std::size_t files = 0;
    std::vector<std::string> problems;
    for (const ModelType type : types) {
      auto request = request_for(cache, *task, type, clean, name);
      auto checks = request ? downloader.verify(*request) : Expected<std::vector<FileCheck>>(request.error());
      if (!checks) {
        problems.push_back(checks.error().message);
        continue;
      }
      files += checks->size();
      for (const auto& check : *checks) {
        if (!check.problem.empty()) problems.push_back(check.path.string() + ": " + check.problem);
      }
    }
    if (problems.empty()) {
      std::printf("%s: ok (%zu files)\n", name.c_str(), files);
      continue;
    }
    exit_code = 1;
    for (const auto& problem : problems)
      std::fprintf(stderr, "focal-ml: %s: %s\n", name.c_str(), problem.c_str());
  }
  return exit_code;
}

}  // namespace

int run_models_command(const ModelsCommand& command, const std::filesystem::path& cache_folder,
                       const HubConfig& hub) {
  switch (command.action) {
    case ModelsCommand::Action::kList:
      return list(cache_folder, command.supported);
    case ModelsCommand::Action::kDownload:
      return download(command.names, cache_folder, hub);
    case ModelsCommand::Action::kVerify:
      return verify(command.names, cache_folder, hub);
  }
  return 1;
}

}  // namespace focal::app
