// SPDX-License-Identifier: AGPL-3.0-or-later
#include "config/ml_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/logging.h"

namespace focal {
namespace {

using nlohmann::json;

constexpr std::string_view kPrefix = "machine_learning_";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string trim(std::string_view s) {
  const auto* begin = s.begin();
  const auto* end = s.end();
  while (begin != end && std::isspace(static_cast<unsigned char>(*begin))) ++begin;
  while (end != begin && std::isspace(static_cast<unsigned char>(*(end - 1)))) --end;
  return {begin, end};
}

std::vector<std::string> split(std::string_view s, std::string_view sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto pos = s.find(sep, start);
    parts.emplace_back(s.substr(start, pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + sep.size();
  }
  return parts;
}

// Comma list, whitespace-stripped, empty items dropped (preload lists, device ids, providers).
std::vector<std::string> comma_list(std::string_view s) {
  std::vector<std::string> out;
  for (auto& item : split(s, ",")) {
    auto t = trim(item);
    if (!t.empty()) out.push_back(std::move(t));
  }
  return out;
}

// Settings that are groups (accept a JSON object for the whole group, like pydantic-settings).
const std::set<std::string>& group_paths() {
  static const std::set<std::string> groups = {"preload", "preload__clip", "preload__facial_recognition",
                                               "preload__ocr", "max_batch_size"};
  return groups;
}

void deep_merge(json& into, const json& from) {
  for (const auto& [key, value] : from.items()) {
    if (value.is_object() && into.contains(key) && into[key].is_object()) {
      deep_merge(into[key], value);
    } else {
      into[key] = value;
    }
  }
}

Error invalid(const std::string& name, const std::string& value, const std::string& why) {
  return unprocessable(name + "=" + json(value).dump() + ": " + why);
}

// Reads MACHINE_LEARNING_* variables into a nested JSON tree keyed by lower-case field names.
Expected<json> collect_settings(const EnvMap& env) {
  json tree = json::object();
  // Parents first so that nested variables override fields of a JSON group value.
  std::vector<std::pair<std::string, std::string>> vars;
  for (const auto& [name, value] : env) {
    const auto key = lower(name);
    if (key.rfind(kPrefix, 0) == 0 && key.size() > kPrefix.size())
      vars.emplace_back(key.substr(kPrefix.size()), name);
  }
  std::sort(vars.begin(), vars.end(), [](const auto& a, const auto& b) {
    return split(a.first, "__").size() < split(b.first, "__").size();
  });
  for (const auto& [key, name] : vars) {
    const std::string& value = env.at(name);
    json leaf = value;
    if (group_paths().count(key) != 0) {
      leaf = json::parse(value, nullptr, false);
      if (leaf.is_discarded() || !leaf.is_object()) return invalid(name, value, "expected a JSON object");
    }
    json* node = &tree;
    const auto path = split(key, "__");
    for (std::size_t i = 0; i + 1 < path.size(); ++i) {
      auto& child = (*node)[path[i]];
      if (!child.is_object()) child = json::object();
      node = &child;
    }
    auto& slot = (*node)[path.back()];
    if (leaf.is_object() && slot.is_object()) {
      deep_merge(slot, leaf);
    } else {
      slot = leaf;
    }
  }
  return tree;
}

// Converts a JSON leaf (string from the environment, or a value from a JSON group) to text.
std::string leaf_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

}  // namespace

Expected<bool> parse_bool(const std::string& name, const std::string& value) {
  // pydantic's lax boolean spellings.
  static const std::set<std::string> truthy = {"1", "on", "t", "true", "y", "yes"};
  static const std::set<std::string> falsy = {"0", "off", "f", "false", "n", "no"};
  const auto v = lower(trim(value));
  if (truthy.count(v) != 0) return true;
  if (falsy.count(v) != 0) return false;
  return invalid(name, value, "expected a boolean (true/false, 1/0, yes/no, on/off)");
}

Expected<int> parse_int(const std::string& name, const std::string& value) {
  const auto v = trim(value);
  std::string_view digits = v;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  int out = 0;
  const auto* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, out);
  if (digits.empty() || ec != std::errc() || ptr != end) return invalid(name, value, "expected an integer");
  return out;
}

Expected<MlConfig> parse_ml_config(const EnvMap& env, unsigned cpu_count) {
  MlConfig cfg;
  const auto home = env.count("HOME") != 0 ? env.at("HOME") : std::string("/root");
  cfg.cache_folder = std::filesystem::path(home) / ".cache" / "immich_ml";
  cfg.request_threads = cpu_count > 0 ? static_cast<int>(cpu_count) : 4;
  if (env.count("DEVICE") != 0) cfg.device = env.at("DEVICE");
  if (lower(cfg.device) == "rocm") cfg.worker_timeout = 900;

  auto tree = collect_settings(env);
  if (!tree) return std::move(tree).error();

  std::vector<std::string> unknown;
  // Each handler consumes one field; `var` is the variable name used in error messages.
  auto get_int = [&](const json& node, const std::string& var, int& out, int min_value) -> Status {
    auto v = parse_int(var, leaf_text(node));
    if (!v) return v.error();
    if (*v < min_value) return invalid(var, leaf_text(node), "must be >= " + std::to_string(min_value));
    out = *v;
    return {};
  };
  auto get_bool = [&](const json& node, const std::string& var, bool& out) -> Status {
    auto v = parse_bool(var, leaf_text(node));
    if (!v) return v.error();
    out = *v;
    return {};
  };
  auto get_precision = [&](const json& node, const std::string& var, std::string& out) -> Status {
    auto v = lower(trim(leaf_text(node)));
    if (v != "fp32" && v != "fp16") return invalid(var, leaf_text(node), "expected FP32 or FP16");
    out = v == "fp32" ? "FP32" : "FP16";
    return {};
  };

  const std::string p = "MACHINE_LEARNING_";
  for (const auto& [key, node] : tree->items()) {
    const std::string var = p + upper(key);
    Status st;
    if (key == "cache_folder") {
      cfg.cache_folder = leaf_text(node);
      if (cfg.cache_folder.empty()) st = invalid(var, "", "must not be empty");
    } else if (key == "model_ttl") {
      st = get_int(node, var, cfg.model_ttl, 0);
    } else if (key == "model_ttl_poll_s") {
      st = get_int(node, var, cfg.model_ttl_poll_s, std::numeric_limits<int>::min());
    } else if (key == "workers") {
      st = get_int(node, var, cfg.workers, 1);
    } else if (key == "worker_timeout") {
      st = get_int(node, var, cfg.worker_timeout, 1);
    } else if (key == "http_keepalive_timeout_s") {
      st = get_int(node, var, cfg.http_keepalive_timeout_s, 0);
    } else if (key == "request_threads") {
      st = get_int(node, var, cfg.request_threads, std::numeric_limits<int>::min());
    } else if (key == "model_inter_op_threads") {
      st = get_int(node, var, cfg.model_inter_op_threads, 0);
    } else if (key == "model_intra_op_threads") {
      st = get_int(node, var, cfg.model_intra_op_threads, 0);
    } else if (key == "model_arena") {
      st = get_bool(node, var, cfg.model_arena);
    } else if (key == "ann") {
      st = get_bool(node, var, cfg.ann);
    } else if (key == "ann_fp16_turbo") {
      st = get_bool(node, var, cfg.ann_fp16_turbo);
    } else if (key == "ann_tuning_level") {
      st = get_int(node, var, cfg.ann_tuning_level, 0);
      if (st && cfg.ann_tuning_level > 3) st = invalid(var, leaf_text(node), "must be 0, 1, 2 or 3");
    } else if (key == "rknn") {
      st = get_bool(node, var, cfg.rknn);
    } else if (key == "rknn_threads") {
      st = get_int(node, var, cfg.rknn_threads, 1);
    } else if (key == "openvino_precision") {
      st = get_precision(node, var, cfg.openvino_precision);
    } else if (key == "rocm_precision") {
      st = get_precision(node, var, cfg.rocm_precision);
    } else if (key == "device_ids") {
      cfg.device_ids = comma_list(leaf_text(node));
      cfg.device_ids_set = true;
      if (cfg.device_ids.empty()) st = invalid(var, leaf_text(node), "needs at least one device id");
    } else if (key == "device_id") {
      cfg.device_id = trim(leaf_text(node));
    } else if (key == "test_full") {
      st = get_bool(node, var, cfg.test_full);
    } else if (key == "preload" && node.is_object()) {
      const std::map<std::string, std::vector<std::string>*> slots = {
          {"clip__textual", &cfg.preload.clip_textual},
          {"clip__visual", &cfg.preload.clip_visual},
          {"facial_recognition__detection", &cfg.preload.facial_recognition_detection},
          {"facial_recognition__recognition", &cfg.preload.facial_recognition_recognition},
          {"ocr__detection", &cfg.preload.ocr_detection},
          {"ocr__recognition", &cfg.preload.ocr_recognition}};
      for (const auto& [task, types] : node.items()) {
        if (!types.is_object()) {
          unknown.push_back(var + "__" + upper(task));
          continue;
        }
        for (const auto& [type, names] : types.items()) {
          const auto slot = slots.find(task + "__" + type);
          if (slot == slots.end()) {
            unknown.push_back(var + "__" + upper(task) + "__" + upper(type));
          } else if (!names.is_null()) {
            *slot->second = comma_list(leaf_text(names));
          }
        }
      }
    } else if (key == "max_batch_size" && node.is_object()) {
      for (const auto& [task, value] : node.items()) {
        const auto sub = var + "__" + upper(task);
        std::optional<int>* slot = task == "facial_recognition" ? &cfg.max_batch_size.facial_recognition
                                   : task == "ocr"              ? &cfg.max_batch_size.ocr
                                                                : nullptr;
        if (slot == nullptr) {
          unknown.push_back(sub);
          continue;
        }
        if (value.is_null()) continue;
        int n = 0;
        st = get_int(value, sub, n, 1);
        if (!st) break;
        *slot = n;
      }
    } else {
      unknown.push_back(var);
    }
    if (!st) return st.error();
  }
  for (const auto& name : unknown) spdlog::warn("Ignoring unknown setting {}", name);

  // Process settings.
  if (env.count("IMMICH_HOST") != 0) cfg.host = trim(env.at("IMMICH_HOST"));
  if (cfg.host.empty()) return invalid("IMMICH_HOST", "", "must not be empty");
  if (env.count("IMMICH_PORT") != 0) {
    auto port = parse_int("IMMICH_PORT", env.at("IMMICH_PORT"));
    if (!port) return std::move(port).error();
    if (*port < 1 || *port > 65535) return invalid("IMMICH_PORT", env.at("IMMICH_PORT"), "must be 1..65535");
    cfg.port = *port;
  }
  if (env.count("IMMICH_LOG_LEVEL") != 0) {
    cfg.log_level = lower(trim(env.at("IMMICH_LOG_LEVEL")));
    if (!parse_log_level(cfg.log_level)) {
      return invalid("IMMICH_LOG_LEVEL", env.at("IMMICH_LOG_LEVEL"),
                     "expected one of critical, error, warning, warn, info, log, debug, verbose");
    }
  }
  cfg.no_color = env.count("NO_COLOR") != 0 && !env.at("NO_COLOR").empty();

  // focal-only settings.
  auto size_setting = [&](const char* name, auto& out, long long min_value) -> Status {
    if (env.count(name) == 0) return {};
    const auto v = trim(env.at(name));
    unsigned long long n = 0;
    const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() ||
        n < static_cast<unsigned long long>(min_value)) {
      return invalid(name, env.at(name), "expected an integer >= " + std::to_string(min_value));
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(n);
    return {};
  };
  for (const auto& st : {size_setting("FOCAL_ML_MAX_BODY_BYTES", cfg.max_body_bytes, 1024),
                         size_setting("FOCAL_ML_MAX_FIELD_BYTES", cfg.max_field_bytes, 1024),
                         size_setting("FOCAL_ML_MAX_IMAGE_PIXELS", cfg.max_image_pixels, 1),
                         size_setting("FOCAL_ML_MAX_JSON_DEPTH", cfg.max_json_depth, 2),
                         size_setting("FOCAL_ML_HTTP_THREADS", cfg.http_threads, 1)}) {
    if (!st) return st.error();
  }
  for (const auto& [name, slot] : {std::pair{"FOCAL_ML_ORT_SHARED_THREADS", &cfg.ort_shared_threads},
                                   std::pair{"FOCAL_ML_ORT_SPINNING", &cfg.ort_spinning},
                                   std::pair{"FOCAL_ML_ORT_MEMORY_PATTERN", &cfg.ort_memory_pattern},
                                   std::pair{"FOCAL_ML_ORT_ARENA_SHRINK", &cfg.ort_arena_shrink}}) {
    if (env.count(name) == 0) continue;
    auto v = parse_bool(name, env.at(name));
    if (!v) return std::move(v).error();
    *slot = *v;
  }
  if (auto st = parse_http_front(env, "FOCAL_ML_", cfg.http); !st) return st.error();
  if (env.count("FOCAL_ML_API_KEY") != 0 && env.count("FOCAL_ML_API_KEY_FILE") != 0) {
    return invalid("FOCAL_ML_API_KEY_FILE", env.at("FOCAL_ML_API_KEY_FILE"),
                   "set either FOCAL_ML_API_KEY or FOCAL_ML_API_KEY_FILE, not both");
  }
  if (env.count("FOCAL_ML_API_KEY") != 0) {
    cfg.api_key = trim(env.at("FOCAL_ML_API_KEY"));
    if (cfg.api_key.empty()) return invalid("FOCAL_ML_API_KEY", "", "must not be empty when set");
  }
  if (env.count("FOCAL_ML_API_KEY_FILE") != 0) {
    std::ifstream file(env.at("FOCAL_ML_API_KEY_FILE"));
    std::string line;
    if (!file || !std::getline(file, line) || trim(line).empty()) {
      return invalid("FOCAL_ML_API_KEY_FILE", env.at("FOCAL_ML_API_KEY_FILE"),
                     "cannot read a key from its first line");
    }
    cfg.api_key = trim(line);
  }
  const std::map<std::string, BatchSetting*> batch_slots = {
      {"FOCAL_ML_BATCH__CLIP__TEXTUAL", &cfg.batching.clip_textual},
      {"FOCAL_ML_BATCH__CLIP__VISUAL", &cfg.batching.clip_visual},
      {"FOCAL_ML_BATCH__FACIAL_RECOGNITION__DETECTION", &cfg.batching.facial_recognition_detection},
      {"FOCAL_ML_BATCH__FACIAL_RECOGNITION__RECOGNITION", &cfg.batching.facial_recognition_recognition}};
  for (const auto& [name, value] : env) {
    if (upper(name).rfind("FOCAL_ML_BATCH__", 0) != 0) continue;
    const auto slot = batch_slots.find(upper(name));
    if (slot == batch_slots.end()) {
      return invalid(name, value,
                     "unknown model type (known: CLIP__TEXTUAL, CLIP__VISUAL, FACIAL_RECOGNITION__DETECTION, "
                     "FACIAL_RECOGNITION__RECOGNITION)");
    }
    const auto parts = comma_list(value);
    auto size = parts.size() == 2 ? parse_int(name, parts[0]) : Expected<int>(invalid(name, value, ""));
    auto delay = parts.size() == 2 ? parse_int(name, parts[1]) : Expected<int>(invalid(name, value, ""));
    if (!size || !delay || *size < 1 || *size > 1024 || *delay < 0 || *delay > 60000000) {
      return invalid(name, value,
                     "expected '<max batch size 1..1024>,<max queue delay in microseconds 0..60000000>'");
    }
    *slot->second = BatchSetting{*size == 1 ? 0 : *size, *delay};
  }
  if (env.count("FOCAL_ML_EXECUTION_PROVIDERS") != 0) {
    static const std::set<std::string> known = {"cpu", "cuda", "migraphx", "openvino", "coreml"};
    for (auto& name : comma_list(lower(env.at("FOCAL_ML_EXECUTION_PROVIDERS")))) {
      if (name == "auto") continue;
      if (known.count(name) == 0) {
        return invalid(
            "FOCAL_ML_EXECUTION_PROVIDERS", env.at("FOCAL_ML_EXECUTION_PROVIDERS"),
            "unknown provider '" + name + "' (known: auto, cuda, migraphx, openvino, coreml, cpu)");
      }
      cfg.execution_providers.push_back(name);
    }
  }
  return cfg;
}

std::string MlConfig::to_json() const {
  json j;
  j["cache_folder"] = cache_folder.string();
  j["model_ttl"] = model_ttl;
  j["model_ttl_poll_s"] = model_ttl_poll_s;
  j["workers"] = workers;
  j["worker_timeout"] = worker_timeout;
  j["http_keepalive_timeout_s"] = http_keepalive_timeout_s;
  j["request_threads"] = request_threads;
  j["model_inter_op_threads"] = model_inter_op_threads;
  j["model_intra_op_threads"] = model_intra_op_threads;
  j["model_arena"] = model_arena;
  j["ann"] = ann;
  j["ann_fp16_turbo"] = ann_fp16_turbo;
  j["ann_tuning_level"] = ann_tuning_level;
  j["rknn"] = rknn;
  j["rknn_threads"] = rknn_threads;
  j["preload"] = {{"clip", {{"textual", preload.clip_textual}, {"visual", preload.clip_visual}}},
                  {"facial_recognition",
                   {{"detection", preload.facial_recognition_detection},
                    {"recognition", preload.facial_recognition_recognition}}},
                  {"ocr", {{"detection", preload.ocr_detection}, {"recognition", preload.ocr_recognition}}}};
  auto opt = [](const std::optional<int>& v) { return v ? json(*v) : json(nullptr); };
  j["max_batch_size"] = {{"facial_recognition", opt(max_batch_size.facial_recognition)},
                         {"ocr", opt(max_batch_size.ocr)}};
  j["openvino_precision"] = openvino_precision;
  j["rocm_precision"] = rocm_precision;
  j["device_ids"] = device_ids;
  j["device_id"] = device_id;
  j["test_full"] = test_full;
  j["immich_host"] = host;
  j["immich_port"] = port;
  j["immich_log_level"] = log_level;
  j["no_color"] = no_color;
  j["device"] = device;
  j["focal"] = {{"execution_providers", execution_providers},
                {"max_body_bytes", max_body_bytes},
                {"max_field_bytes", max_field_bytes},
                {"max_image_pixels", max_image_pixels},
                {"max_json_depth", max_json_depth},
                {"http_threads", http_threads},
                {"header_timeout_s", http.header_timeout_s},
                {"body_timeout_s", http.body_timeout_s},
                {"max_connections", http.max_connections},
                {"tls", !http.tls_cert_file.empty()},
                {"access_log", http.access_log},
                {"ort_shared_threads", ort_shared_threads},
                {"ort_spinning", ort_spinning},
                {"ort_memory_pattern", ort_memory_pattern},
                {"ort_arena_shrink", ort_arena_shrink},
                {"api_key", api_key.empty() ? json(nullptr) : json("<set>")}};
  auto batch = [](const BatchSetting& b) {
    return b.max_batch_size > 1
               ? json{{"max_batch_size", b.max_batch_size}, {"max_queue_delay_us", b.max_queue_delay_us}}
               : json(nullptr);
  };
  j["focal"]["batch"] = {
      {"clip", {{"textual", batch(batching.clip_textual)}, {"visual", batch(batching.clip_visual)}}},
      {"facial_recognition",
       {{"detection", batch(batching.facial_recognition_detection)},
        {"recognition", batch(batching.facial_recognition_recognition)}}}};
  j["focal"]["devices"] = devices();
  return j.dump(2);
}

}  // namespace focal
