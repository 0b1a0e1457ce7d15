// SPDX-License-Identifier: AGPL-3.0-or-later
#include "settings/settings.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <utility>

#include "core/logging.h"
#include "store/database.h"
#include "store/query.h"

namespace focal::settings {
namespace {

using nlohmann::json;

constexpr std::string_view kConfigKey = "system-config";

// Immich's configurable queues and their default concurrency. facialRecognition and duplicateDetection are
// fixed at 1 and deliberately absent (as in Immich's `job` config).
constexpr std::array<std::pair<std::string_view, int>, 15> kQueueDefaults{{
    {"thumbnailGeneration", 3},
    {"metadataExtraction", 5},
    {"videoConversion", 1},
    {"faceDetection", 2},
    {"search", 5},
    {"sidecar", 5},
    {"library", 5},
    {"migration", 5},
    {"backgroundTask", 5},
    {"smartSearch", 2},
    {"notifications", 5},
    {"ocr", 1},
    {"workflow", 5},
    {"integrityCheck", 1},
    {"editor", 2},
}};

// Embedding dimension of each CLIP model (Immich's CLIP_MODEL_INFO).
struct ClipModel {
  std::string_view name;
  int dimension;
};
constexpr ClipModel kClipModels[] = {
    {"RN101__openai", 512},
    {"RN101__yfcc15m", 512},
    {"ViT-B-16__laion400m_e31", 512},
    {"ViT-B-16__laion400m_e32", 512},
    {"ViT-B-16__openai", 512},
    {"ViT-B-32__laion2b-s34b-b79k", 512},
    {"ViT-B-32__laion2b_e16", 512},
    {"ViT-B-32__laion400m_e31", 512},
    {"ViT-B-32__laion400m_e32", 512},
    {"ViT-B-32__openai", 512},
    {"XLM-Roberta-Base-ViT-B-32__laion5b_s13b_b90k", 512},
    {"XLM-Roberta-Large-Vit-B-32", 512},
    {"RN50x4__openai", 640},
    {"ViT-B-16-plus-240__laion400m_e31", 640},
    {"ViT-B-16-plus-240__laion400m_e32", 640},
    {"XLM-Roberta-Large-Vit-B-16Plus", 640},
    {"LABSE-Vit-L-14", 768},
    {"RN50x16__openai", 768},
    {"ViT-B-16-SigLIP-256__webli", 768},
    {"ViT-B-16-SigLIP-384__webli", 768},
    {"ViT-B-16-SigLIP-512__webli", 768},
    {"ViT-B-16-SigLIP-i18n-256__webli", 768},
    {"ViT-B-16-SigLIP__webli", 768},
    {"ViT-L-14-336__openai", 768},
    {"ViT-L-14-quickgelu__dfn2b", 768},
    {"ViT-L-14__laion2b-s32b-b82k", 768},
    {"ViT-L-14__laion400m_e31", 768},
    {"ViT-L-14__laion400m_e32", 768},
    {"ViT-L-14__openai", 768},
    {"XLM-Roberta-Large-Vit-L-14", 768},
    {"nllb-clip-base-siglip__mrl", 768},
    {"nllb-clip-base-siglip__v1", 768},
    {"ViT-B-16-SigLIP2__webli", 768},
    {"ViT-B-32-SigLIP2-256__webli", 768},
    {"RN50__cc12m", 1024},
    {"RN50__openai", 1024},
    {"RN50__yfcc15m", 1024},
    {"RN50x64__openai", 1024},
    {"ViT-H-14-378-quickgelu__dfn5b", 1024},
    {"ViT-H-14-quickgelu__dfn5b", 1024},
    {"ViT-H-14__laion2b-s32b-b79k", 1024},
    {"ViT-L-16-SigLIP-256__webli", 1024},
    {"ViT-L-16-SigLIP-384__webli", 1024},
    {"ViT-g-14__laion2b-s12b-b42k", 1024},
    {"XLM-Roberta-Large-ViT-H-14__frozen_laion5b_s13b_b90k", 1024},
    {"ViT-L-16-SigLIP2-256__webli", 1024},
    {"ViT-L-16-SigLIP2-384__webli", 1024},
    {"ViT-L-16-SigLIP2-512__webli", 1024},
    {"ViT-SO400M-14-SigLIP-384__webli", 1152},
    {"nllb-clip-large-siglip__mrl", 1152},
    {"nllb-clip-large-siglip__v1", 1152},
    {"ViT-SO400M-14-SigLIP2__webli", 1152},
    {"ViT-SO400M-14-SigLIP2-378__webli", 1152},
    {"ViT-SO400M-16-SigLIP2-256__webli", 1152},
    {"ViT-SO400M-16-SigLIP2-384__webli", 1152},
    {"ViT-SO400M-16-SigLIP2-512__webli", 1152},
    {"ViT-gopt-16-SigLIP2-256__webli", 1536},
    {"ViT-gopt-16-SigLIP2-384__webli", 1536},
};

constexpr store::Migration kMigrations[] = {
    {1, "CREATE TABLE system_metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;", false,
     "CREATE TABLE system_metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL);"},
};

Error bad(std::string message) { return bad_request(std::move(message)); }

std::string trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

Status in_range(std::string_view key, double value, double low, double high) {
  if (!(value >= low && value <= high))
    return bad(std::string(key) + " must be between " + format_number(low) + " and " + format_number(high));
  return {};
}

Status at_least(std::string_view key, long long value, long long low) {
  if (value < low) return bad(std::string(key) + " must be an integer >= " + std::to_string(low));
  return {};
}

bool valid_url(std::string_view url) {
  static const std::regex pattern(R"(^https?://[^\s/?#]+([/?#]\S*)?$)", std::regex::icase);
  return std::regex_match(url.begin(), url.end(), pattern);
}

// --- JSON tree helpers ---

// Merges `partial` over `base` (in place), following the shape of `base`: unknown keys are collected, type
// mismatches are errors. Arrays and scalars replace.
Status merge_into(json& base, const json& partial, const std::string& prefix,
                  std::vector<std::string>& unknown) {
  if (!partial.is_object())
    return bad((prefix.empty() ? std::string("config") : prefix) + " must be an object");
  for (const auto& [key, value] : partial.items()) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    auto found = base.find(key);
    if (found == base.end()) {
      unknown.push_back(path);
      continue;
    }
    json& target = *found;
    if (target.is_object()) {
      if (Status merged = merge_into(target, value, path, unknown); !merged) return merged;
    } else if (target.is_boolean()) {
      if (!value.is_boolean()) return bad(path + " must be a boolean");
      target = value;
    } else if (target.is_number_integer()) {
      if (value.is_number_integer()) {
        target = value;
      } else if (value.is_number_float() && std::isfinite(value.get<double>()) &&
                 std::floor(value.get<double>()) == value.get<double>() &&
                 std::fabs(value.get<double>()) < 9.0e15) {
        target = static_cast<long long>(value.get<double>());
      } else {
        return bad(path + " must be an integer");
      }
    } else if (target.is_number()) {
      if (!value.is_number() || !std::isfinite(value.get<double>())) return bad(path + " must be a number");
      target = value.get<double>();
    } else if (target.is_string()) {
      if (!value.is_string()) return bad(path + " must be a string");
      target = value;
    } else if (target.is_array()) {
      if (!value.is_array()) return bad(path + " must be an array of strings");
      for (const auto& element : value)
        if (!element.is_string()) return bad(path + " must be an array of strings");
      target = value;
    }
  }
  return {};
}

json diff_tree(const json& value, const json& base) {
  if (!value.is_object() || !base.is_object()) return value == base ? json() : value;
  json out = json::object();
  for (const auto& [key, child] : value.items()) {
    auto found = base.find(key);
    if (found == base.end()) {
      out[key] = child;
      continue;
    }
    json sub = diff_tree(child, *found);
    if (child.is_object()) {
      if (!sub.empty()) out[key] = std::move(sub);
    } else if (!sub.is_null()) {
      out[key] = std::move(sub);
    }
  }
  return out;
}

std::vector<std::string> split_path(std::string_view dotted) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= dotted.size()) {
    const auto dot = dotted.find('.', start);
    const auto end = dot == std::string_view::npos ? dotted.size() : dot;
    parts.emplace_back(dotted.substr(start, end - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

// Converts a validated-shape JSON tree (same shape as to_json) to the struct.
SystemConfig from_tree(const json& tree) {
  SystemConfig config;
  const json& ml = tree.at("machineLearning");
  auto& out = config.machine_learning;
  out.enabled = ml.at("enabled").get<bool>();
  out.urls = ml.at("urls").get<std::vector<std::string>>();
  out.balance = ml.at("balance").get<std::string>();
  out.availability_checks.enabled = ml.at("availabilityChecks").at("enabled").get<bool>();
  out.availability_checks.timeout_ms = static_cast<int>(
      std::clamp<long long>(ml.at("availabilityChecks").at("timeout").get<long long>(), -1, 1LL << 30));
  out.availability_checks.interval_ms = static_cast<int>(
      std::clamp<long long>(ml.at("availabilityChecks").at("interval").get<long long>(), -1, 1LL << 30));
  out.clip.enabled = ml.at("clip").at("enabled").get<bool>();
  out.clip.model_name = ml.at("clip").at("modelName").get<std::string>();
  out.duplicate_detection.enabled = ml.at("duplicateDetection").at("enabled").get<bool>();
  out.duplicate_detection.max_distance = ml.at("duplicateDetection").at("maxDistance").get<double>();
  const json& faces = ml.at("facialRecognition");
  out.facial_recognition.enabled = faces.at("enabled").get<bool>();
  out.facial_recognition.model_name = faces.at("modelName").get<std::string>();
  out.facial_recognition.min_score = faces.at("minScore").get<double>();
  out.facial_recognition.max_distance = faces.at("maxDistance").get<double>();
  out.facial_recognition.min_faces =
      static_cast<int>(std::clamp<long long>(faces.at("minFaces").get<long long>(), -1, 1LL << 30));
  const json& ocr = ml.at("ocr");
  out.ocr.enabled = ocr.at("enabled").get<bool>();
  out.ocr.model_name = ocr.at("modelName").get<std::string>();
  out.ocr.min_detection_score = ocr.at("minDetectionScore").get<double>();
  out.ocr.min_recognition_score = ocr.at("minRecognitionScore").get<double>();
  out.ocr.max_resolution =
      static_cast<int>(std::clamp<long long>(ocr.at("maxResolution").get<long long>(), -1, 1LL << 30));
  for (const auto& [queue, settings] : tree.at("job").items())
    config.job_concurrency[queue] =
        static_cast<int>(std::clamp<long long>(settings.at("concurrency").get<long long>(), -1, 1LL << 30));
  const json& nightly = tree.at("nightlyTasks");
  config.nightly_tasks.start_time = nightly.at("startTime").get<std::string>();
  config.nightly_tasks.database_cleanup = nightly.at("databaseCleanup").get<bool>();
  config.nightly_tasks.missing_thumbnails = nightly.at("missingThumbnails").get<bool>();
  config.nightly_tasks.cluster_new_faces = nightly.at("clusterNewFaces").get<bool>();
  return config;
}

}  // namespace

Status SystemConfig::validate() const {
  const auto& ml = machine_learning;
  if (ml.urls.empty()) return bad("machineLearning.urls must contain at least one URL");
  for (const auto& url : ml.urls)
    if (!valid_url(url)) return bad("machineLearning.urls: \"" + url + "\" is not an http(s) URL");
  if (ml.balance != "fallback" && ml.balance != "least-outstanding")
    return bad("machineLearning.balance must be \"fallback\" or \"least-outstanding\"");
  if (Status s = at_least("machineLearning.availabilityChecks.timeout", ml.availability_checks.timeout_ms, 1);
      !s)
    return s;
  if (Status s =
          at_least("machineLearning.availabilityChecks.interval", ml.availability_checks.interval_ms, 1);
      !s)
    return s;
  if (!clip_model_dimension(ml.clip.model_name))
    return bad("Unknown CLIP model: " + ml.clip.model_name +
               ". Please check the model name for typos and confirm this is a supported model.");
  if (Status s = in_range("machineLearning.duplicateDetection.maxDistance",
                          ml.duplicate_detection.max_distance, 0.001, 0.1);
      !s)
    return s;
  if (trim(ml.facial_recognition.model_name).empty())
    return bad("machineLearning.facialRecognition.modelName must not be empty");
  if (Status s =
          in_range("machineLearning.facialRecognition.minScore", ml.facial_recognition.min_score, 0.1, 1);
      !s)
    return s;
  if (Status s = in_range("machineLearning.facialRecognition.maxDistance", ml.facial_recognition.max_distance,
                          0.1, 2);
      !s)
    return s;
  if (Status s = at_least("machineLearning.facialRecognition.minFaces", ml.facial_recognition.min_faces, 1);
      !s)
    return s;
  if (trim(ml.ocr.model_name).empty()) return bad("machineLearning.ocr.modelName must not be empty");
  if (Status s = in_range("machineLearning.ocr.minDetectionScore", ml.ocr.min_detection_score, 0.1, 1); !s)
    return s;
  if (Status s = in_range("machineLearning.ocr.minRecognitionScore", ml.ocr.min_recognition_score, 0.1, 1);
      !s)
    return s;
  if (Status s = at_least("machineLearning.ocr.maxResolution", ml.ocr.max_resolution, 1); !s) return s;
  for (const auto& [queue, concurrency] : job_concurrency)
    if (Status s = at_least("job." + queue + ".concurrency", concurrency, 1); !s) return s;
  static const std::regex time_pattern(R"(^([01]\d|2[0-3]):[0-5]\d$)");
  if (!std::regex_match(nightly_tasks.start_time, time_pattern))
    return bad("nightlyTasks.startTime must be a time of day as HH:MM");
  return {};
}

SystemConfig default_config(const EnvMap& env) {
  SystemConfig config;
  for (const auto& [queue, concurrency] : kQueueDefaults) config.job_concurrency.emplace(queue, concurrency);
  auto url = env.find("IMMICH_MACHINE_LEARNING_URL");
  if (url == env.end() || trim(url->second).empty()) url = env.find("FOCAL_ML_URL");
  if (url != env.end() && !trim(url->second).empty()) {
    config.machine_learning.urls.clear();
    std::stringstream list(url->second);
    for (std::string item; std::getline(list, item, ',');)
      if (!trim(item).empty()) config.machine_learning.urls.push_back(trim(item));
  }
  if (auto enabled = env.find("IMMICH_MACHINE_LEARNING_ENABLED"); enabled != env.end()) {
    std::string value = trim(enabled->second);
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (value == "false" || value == "0" || value == "no" || value == "off")
      config.machine_learning.enabled = false;
  }
  return config;
}

int queue_concurrency(const SystemConfig& config, std::string_view queue) {
  if (queue == "facialRecognition" || queue == "duplicateDetection") return 1;
  if (auto found = config.job_concurrency.find(queue); found != config.job_concurrency.end())
    return found->second;
  return 1;
}

bool smart_search_enabled(const SystemConfig& c) {
  return c.machine_learning.enabled && c.machine_learning.clip.enabled;
}
bool facial_recognition_enabled(const SystemConfig& c) {
  return c.machine_learning.enabled && c.machine_learning.facial_recognition.enabled;
}
bool duplicate_detection_enabled(const SystemConfig& c) {
  return smart_search_enabled(c) && c.machine_learning.duplicate_detection.enabled;
}
bool ocr_enabled(const SystemConfig& c) {
  return c.machine_learning.enabled && c.machine_learning.ocr.enabled;
}

std::string normalize_clip_model_name(std::string_view name) {
  if (const auto slash = name.rfind('/'); slash != std::string_view::npos) name = name.substr(slash + 1);
  std::string out(name);
  std::replace(out.begin(), out.end(), ':', '_');
  return out;
}

std::optional<int> clip_model_dimension(std::string_view name) {
  const std::string normalized = normalize_clip_model_name(name);
  for (const auto& model : kClipModels)
    if (model.name == normalized) return model.dimension;
  return std::nullopt;
}

json to_json(const SystemConfig& config) {
  const auto& ml = config.machine_learning;
  json job = json::object();
  for (const auto& [queue, concurrency] : config.job_concurrency) job[queue] = {{"concurrency", concurrency}};
  return {
      {"machineLearning",
       {{"enabled", ml.enabled},
        {"urls", ml.urls},
        {"balance", ml.balance},
        {"availabilityChecks",
         {{"enabled", ml.availability_checks.enabled},
          {"timeout", ml.availability_checks.timeout_ms},
          {"interval", ml.availability_checks.interval_ms}}},
        {"clip", {{"enabled", ml.clip.enabled}, {"modelName", ml.clip.model_name}}},
        {"duplicateDetection",
         {{"enabled", ml.duplicate_detection.enabled}, {"maxDistance", ml.duplicate_detection.max_distance}}},
        {"facialRecognition",
         {{"enabled", ml.facial_recognition.enabled},
          {"modelName", ml.facial_recognition.model_name},
          {"minScore", ml.facial_recognition.min_score},
          {"maxDistance", ml.facial_recognition.max_distance},
          {"minFaces", ml.facial_recognition.min_faces}}},
        {"ocr",
         {{"enabled", ml.ocr.enabled},
          {"modelName", ml.ocr.model_name},
          {"minDetectionScore", ml.ocr.min_detection_score},
          {"minRecognitionScore", ml.ocr.min_recognition_score},
          {"maxResolution", ml.ocr.max_resolution}}}}},
      {"job", job},
      {"nightlyTasks",
       {{"startTime", config.nightly_tasks.start_time},
        {"databaseCleanup", config.nightly_tasks.database_cleanup},
        {"missingThumbnails", config.nightly_tasks.missing_thumbnails},
        {"clusterNewFaces", config.nightly_tasks.cluster_new_faces}}},
  };
}

json diff_json(const SystemConfig& config, const SystemConfig& defaults) {
  return diff_tree(to_json(config), to_json(defaults));
}

Expected<SystemConfig> from_json(const json& partial, const SystemConfig& defaults,
                                 std::vector<std::string>* unknown_keys) {
  json tree = to_json(defaults);
  std::vector<std::string> unknown;
  if (Status merged = merge_into(tree, partial, "", unknown); !merged) return merged.error();
  if (unknown_keys != nullptr) unknown_keys->insert(unknown_keys->end(), unknown.begin(), unknown.end());
  SystemConfig config = from_tree(tree);
  if (Status valid = config.validate(); !valid) return valid.error();
  return config;
}

Expected<json> get_path(const SystemConfig& config, std::string_view dotted_path) {
  json tree = to_json(config);
  if (trim(dotted_path).empty()) return tree;
  const json* node = &tree;
  for (const auto& part : split_path(dotted_path)) {
    if (!node->is_object() || !node->contains(part))
      return bad("Unknown setting: " + std::string(dotted_path));
    node = &node->at(part);
  }
  return *node;
}

Expected<SystemConfig> with_path(const SystemConfig& config, std::string_view dotted_path,
                                 std::string_view value) {
  const auto parts = split_path(dotted_path);
  json tree = to_json(config);
  json* node = &tree;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!node->is_object() || !node->contains(parts[i]) || parts[i].empty())
      return bad("Unknown setting: " + std::string(dotted_path));
    node = &(*node)[parts[i]];
  }
  if (node->is_object()) return bad(std::string(dotted_path) + " is a group; set one of its keys");
  json parsed = json::parse(value.begin(), value.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || (node->is_string() && !parsed.is_string())) parsed = std::string(value);
  // A single URL given for the URL list is a one-element list.
  if (node->is_array() && parsed.is_string()) parsed = json::array({parsed});
  *node = parsed;
  // Rebuild the partial that only holds the changed key so type errors name it.
  json partial = json::object();
  json* cursor = &partial;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) cursor = &(*cursor)[parts[i]];
  (*cursor)[parts.back()] = parsed;
  json base = to_json(config);
  std::vector<std::string> unknown;
  if (Status merged = merge_into(base, partial, "", unknown); !merged) return merged.error();
  SystemConfig result = from_tree(base);
  if (Status valid = result.validate(); !valid) return valid.error();
  return result;
}

Status migrate(store::Database& db) { return db.migrate("settings", kMigrations); }

// --- SettingsStore ---

struct SettingsStore::Impl {
  store::Database& db;
  SystemConfig defaults;
  bool read_only = false;  // IMMICH_CONFIG_FILE in use
  SystemConfig file_config;

  mutable std::mutex mutex;
  SystemConfig cached;
  std::map<int, Listener> listeners;
  int next_listener = 1;

  Impl(store::Database& database, SystemConfig defaults_in)
      : db(database), defaults(std::move(defaults_in)) {}

  Expected<SystemConfig> load_stored() {
    if (read_only) return file_config;
    auto text = db.read([](store::Connection& connection) -> Expected<std::string> {
      auto value = store::query_one<std::string>(
          connection, "SELECT value FROM system_metadata WHERE key = ?1", kConfigKey);
      if (!value) return std::move(value).error();
      return value->value_or("{}");
    });
    if (!text) return text.error();
    json partial = json::parse(*text, nullptr, false);
    if (partial.is_discarded()) return internal_error("system_metadata['system-config'] is not valid JSON");
    std::vector<std::string> unknown;
    auto config = from_json(partial, defaults, &unknown);
    for (const auto& key : unknown) spdlog::warn("Unknown key in the stored system config: {}", key);
    return config;
  }

  // Swaps the cache and notifies listeners outside the lock.
  void publish(const SystemConfig& config) {
    SystemConfig old;
    std::vector<Listener> to_call;
    {
      std::lock_guard lock(mutex);
      if (cached == config) return;
      old = std::exchange(cached, config);
      for (const auto& [id, listener] : listeners) to_call.push_back(listener);
    }
    for (const auto& listener : to_call) listener(old, config);
  }
};

SettingsStore::SettingsStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SettingsStore::~SettingsStore() = default;

Expected<std::unique_ptr<SettingsStore>> SettingsStore::open(store::Database& db, const EnvMap& env) {
  auto impl = std::make_unique<Impl>(db, default_config(env));
  if (auto file = env.find("IMMICH_CONFIG_FILE"); file != env.end() && !file->second.empty()) {
    std::ifstream in(file->second);
    if (!in) return bad("IMMICH_CONFIG_FILE: cannot read " + file->second);
    json partial = json::parse(in, nullptr, false);
    if (partial.is_discarded())
      return bad("IMMICH_CONFIG_FILE: " + file->second +
                 " is not valid JSON (focal reads JSON config files only)");
    std::vector<std::string> unknown;
    auto config = from_json(partial, impl->defaults, &unknown);
    if (!config) return Error{config.error().kind, "IMMICH_CONFIG_FILE: " + config.error().message};
    for (const auto& key : unknown) spdlog::warn("Unknown key in {}: {}", file->second, key);
    impl->read_only = true;
    impl->file_config = *config;
  }
  auto loaded = impl->load_stored();
  if (!loaded) return loaded.error();
  impl->cached = *loaded;
  return std::unique_ptr<SettingsStore>(new SettingsStore(std::move(impl)));
}

SystemConfig SettingsStore::get() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->cached;
}

const SystemConfig& SettingsStore::defaults() const { return impl_->defaults; }

Expected<SystemConfig> SettingsStore::reload() {
  auto loaded = impl_->load_stored();
  if (!loaded) return loaded.error();
  impl_->publish(*loaded);
  return loaded;
}

Status SettingsStore::update(const SystemConfig& config) {
  if (impl_->read_only) return bad("Cannot update configuration while IMMICH_CONFIG_FILE is in use");
  if (Status valid = config.validate(); !valid) return valid;
  const std::string stored = diff_json(config, impl_->defaults).dump();
  Status written = impl_->db.write([&](store::Connection& connection) -> Status {
    return store::exec(connection,
                       "INSERT INTO system_metadata(key, value) VALUES (?1, ?2) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       kConfigKey, stored);
  });
  if (!written) return written;
  impl_->publish(config);
  return {};
}

Expected<json> SettingsStore::get_path(std::string_view dotted_path) const {
  return settings::get_path(get(), dotted_path);
}

Status SettingsStore::set_path(std::string_view dotted_path, std::string_view value) {
  auto fresh = reload();
  if (!fresh) return fresh.error();
  auto changed = with_path(*fresh, dotted_path, value);
  if (!changed) return changed.error();
  return update(*changed);
}

Status SettingsStore::reset_path(std::string_view dotted_path) {
  auto fresh = reload();
  if (!fresh) return fresh.error();
  if (trim(dotted_path).empty()) return update(impl_->defaults);
  auto default_value = settings::get_path(impl_->defaults, dotted_path);
  if (!default_value) return default_value.error();
  auto changed = with_path(*fresh, dotted_path, default_value->dump());
  if (!changed) return changed.error();
  return update(*changed);
}

int SettingsStore::subscribe(Listener listener) {
  std::lock_guard lock(impl_->mutex);
  const int id = impl_->next_listener++;
  impl_->listeners.emplace(id, std::move(listener));
  return id;
}

void SettingsStore::unsubscribe(int id) {
  std::lock_guard lock(impl_->mutex);
  impl_->listeners.erase(id);
}

}  // namespace focal::settings
