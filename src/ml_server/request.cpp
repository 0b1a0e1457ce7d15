// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ml_server/request.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace focal {
namespace {

using nlohmann::json;

Error invalid_format() { return unprocessable("Invalid request format."); }

// Rejects nesting deeper than `max_depth` during parsing, before any large structure is built.
bool parse_with_depth_limit(std::string_view text, int max_depth, json& out) {
  int depth = 0;
  bool too_deep = false;
  const json::parser_callback_t cb = [&](int d, json::parse_event_t event, json& /*parsed*/) {
    if (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) {
      depth = d + 1;
      if (depth > max_depth) {
        too_deep = true;
        return false;
      }
    }
    return !too_deep;
  };
  out = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  return !too_deep;
}

bool source_fits(Task task, ModelSource source) {
  switch (task) {
    case Task::kClip:
      return source == ModelSource::kOpenClip || source == ModelSource::kMClip;
    case Task::kFacialRecognition:
      return source == ModelSource::kInsightFace;
    case Task::kOcr:
      return source == ModelSource::kPaddle;
  }
  return false;
}

bool type_fits(Task task, ModelType type) {
  switch (task) {
    case Task::kClip:
      return type == ModelType::kVisual || type == ModelType::kTextual;
    case Task::kFacialRecognition:
    case Task::kOcr:
      return type == ModelType::kDetection || type == ModelType::kRecognition;
  }
  return false;
}

Expected<EntryOptions> parse_options(const Entry& entry, const json& options) {
  EntryOptions out;
  const std::string where = std::string(to_string(entry.task)) + "." + std::string(to_string(entry.type));
  if (options.is_null()) return out;
  if (!options.is_object()) return unprocessable("'options' of " + where + " must be an object");
  auto number = [&](const char* key) -> Expected<std::optional<double>> {
    if (!options.contains(key) || options[key].is_null()) return std::optional<double>{};
    const auto& v = options[key];
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      return unprocessable("Option '" + std::string(key) + "' of " + where + " must be a number");
    }
    return std::optional<double>{v.get<double>()};
  };
  auto min_score = number("minScore");
  if (!min_score) return std::move(min_score).error();
  if (*min_score) {
    if (**min_score < 0.0 || **min_score > 1.0)
      return unprocessable("Option 'minScore' of " + where + " must be in [0, 1]");
    out.min_score = static_cast<float>(**min_score);
  }
  auto max_resolution = number("maxResolution");
  if (!max_resolution) return std::move(max_resolution).error();
  if (*max_resolution) {
    const double v = **max_resolution;
    if (v < 1 || v > 16384 || v != std::floor(v)) {
      return unprocessable("Option 'maxResolution' of " + where + " must be an integer in [1, 16384]");
    }
    out.max_resolution = static_cast<int>(v);
  }
  if (options.contains("language") && !options["language"].is_null()) {
    if (!options["language"].is_string())
      return unprocessable("Option 'language' of " + where + " must be a string");
    out.language = options["language"].get<std::string>();
  }
  if (options.contains("scoreMode") && !options["scoreMode"].is_null()) {
    const auto& v = options["scoreMode"];
    if (!v.is_string() || (v != "fast" && v != "slow")) {
      return unprocessable("Option 'scoreMode' of " + where + " must be 'fast' or 'slow'");
    }
    out.score_mode = v.get<std::string>();
  }
  return out;
}

}  // namespace

Expected<std::vector<Entry>> parse_entries(std::string_view json_text, const EntriesLimits& limits) {
  json root;
  if (!parse_with_depth_limit(json_text, limits.max_json_depth, root)) {
    return unprocessable("Invalid request format: entries nest deeper than " +
                         std::to_string(limits.max_json_depth) + " levels");
  }
  if (root.is_discarded() || !root.is_object()) return invalid_format();

  std::vector<Entry> entries;
  for (const auto& [task_name, types] : root.items()) {
    if (!types.is_object()) return invalid_format();
    const auto task = parse_task(task_name);
    for (const auto& [type_name, spec] : types.items()) {
      if (!task)
        return unprocessable("Unknown task '" + task_name + "' (expected clip, facial-recognition or ocr)");
      const auto type = parse_model_type(type_name);
      if (!type || !type_fits(*task, *type)) {
        return unprocessable("Unknown type '" + type_name + "' for task '" + task_name + "'");
      }
      if (!spec.is_object())
        return unprocessable("Entry " + task_name + "." + type_name + " must be an object");
      if (!spec.contains("modelName")) return invalid_format();
      if (!spec["modelName"].is_string()) {
        return unprocessable("'modelName' of " + task_name + "." + type_name + " must be a string");
      }
      Entry entry;
      entry.task = *task;
      entry.type = *type;
      entry.model_name = spec["modelName"].get<std::string>();
      auto clean = validate_model_name(entry.model_name, limits.allow_any_model);
      if (!clean) return std::move(clean).error();
      entry.clean_name = std::move(*clean);
      const auto source = model_source(entry.clean_name);
      if (source) {
        if (!source_fits(*task, *source)) {
          return unprocessable("Model '" + entry.model_name + "' is a " + std::string(to_string(*source)) +
                               " model and cannot serve task '" + task_name + "'");
        }
        entry.source = *source;
      } else {  // only reachable with allow_any_model: infer the family from the task
        entry.source = *task == Task::kClip                ? ModelSource::kOpenClip
                       : *task == Task::kFacialRecognition ? ModelSource::kInsightFace
                                                           : ModelSource::kPaddle;
      }
      auto options = parse_options(entry, spec.contains("options") ? spec["options"] : json());
      if (!options) return std::move(options).error();
      entry.options = std::move(*options);
      entries.push_back(std::move(entry));
    }
  }
  if (entries.empty()) return unprocessable("Invalid request format: entries names no task");
  return entries;
}

Status check_dependencies(const std::vector<Entry>& entries) {
  for (const auto& entry : entries) {
    if (!entry.has_dependency()) continue;
    bool found = false;
    for (const auto& other : entries) {
      found = found || (other.task == entry.task && other.type == ModelType::kDetection);
    }
    if (!found) {
      // Same text as Immich, including the Python repr of the (type, task) dependency key.
      const std::string task_enum = entry.task == Task::kOcr ? "OCR" : "FACIAL_RECOGNITION";
      return bad_request("Task " + std::string(to_string(entry.task)) + " of type " +
                         std::string(to_string(entry.type)) +
                         " depends on output of (<ModelType.DETECTION: 'detection'>, <ModelTask." +
                         task_enum + ": '" + std::string(to_string(entry.task)) + "'>)");
    }
  }
  return {};
}

}  // namespace focal
