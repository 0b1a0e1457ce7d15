// SPDX-License-Identifier: AGPL-3.0-or-later
// The library server's system configuration (Immich's SystemConfig subset that focal uses:
// machineLearning.*, job concurrency, nightly tasks).
//
// Key names, defaults and validation ranges are Immich's; JSON uses Immich's camelCase names
// (`machineLearning.clip.modelName`, `job.smartSearch.concurrency`, `nightlyTasks.startTime`). Only values
// that differ from the defaults are stored (system_metadata['system-config'], component "settings"), so a
// changed default reaches every installation that never overrode it. Loading merges the stored JSON over the
// defaults and validates the result; errors name the dotted key.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/env.h"
#include "core/error.h"

namespace focal::store {
class Database;
}

namespace focal::settings {

struct AvailabilityChecks {
  bool enabled = true;
  int timeout_ms = 2000;    // per ping
  int interval_ms = 30000;  // between ping rounds
  bool operator==(const AvailabilityChecks&) const = default;
};

struct ClipSettings {
  bool enabled = true;
  std::string model_name = "ViT-B-32__openai";
  bool operator==(const ClipSettings&) const = default;
};

struct DuplicateDetectionSettings {
  bool enabled = true;
  double max_distance = 0.01;  // cosine distance, 0.001..0.1
  bool operator==(const DuplicateDetectionSettings&) const = default;
};

struct FacialRecognitionSettings {
  bool enabled = true;
  std::string model_name = "buffalo_l";
  double min_score = 0.7;     // 0.1..1
  double max_distance = 0.5;  // cosine distance, 0.1..2
  int min_faces = 3;          // >= 1
  bool operator==(const FacialRecognitionSettings&) const = default;
};

struct OcrSettings {
  bool enabled = true;
  std::string model_name = "PP-OCRv5_mobile";
  double min_detection_score = 0.5;    // 0.1..1
  double min_recognition_score = 0.8;  // 0.1..1
  int max_resolution = 736;            // >= 1
  bool operator==(const OcrSettings&) const = default;
};

struct MachineLearningSettings {
  bool enabled = true;  // env IMMICH_MACHINE_LEARNING_ENABLED
  // This machine first, then the service name in Immich's compose network (Immich: only the latter), so a first
  // run on one machine finds a local focal-ml; unreachable URLs are skipped by the availability checks.
  std::vector<std::string> urls{"http://127.0.0.1:3003",
                                "http://immich-machine-learning:3003"};  // env IMMICH_MACHINE_LEARNING_URL
  // focal only: "fallback" (Immich: the first healthy URL takes every request) or "least-outstanding"
  // (every healthy URL takes requests, the least busy first, weighted by its measured latency).
  std::string balance = "fallback";
  AvailabilityChecks availability_checks;
  ClipSettings clip;
  DuplicateDetectionSettings duplicate_detection;
  FacialRecognitionSettings facial_recognition;
  OcrSettings ocr;
  bool operator==(const MachineLearningSettings&) const = default;
};

struct NightlyTasks {
  std::string start_time = "00:00";  // HH:MM, local time
  bool database_cleanup = true;
  bool missing_thumbnails = true;
  bool cluster_new_faces = true;
  bool operator==(const NightlyTasks&) const = default;
};

struct SystemConfig {
  MachineLearningSettings machine_learning;
  // job.<queue>.concurrency for the configurable queues (Immich's defaults); facialRecognition and
  // duplicateDetection are fixed at 1 and absent, as in Immich.
  std::map<std::string, int, std::less<>> job_concurrency;
  NightlyTasks nightly_tasks;

  // Checks every range; the error (kBadRequest) names the dotted key, e.g.
  // "machineLearning.facialRecognition.minScore must be between 0.1 and 1".
  Status validate() const;
  bool operator==(const SystemConfig&) const = default;
};

// The defaults, with the environment applied (IMMICH_MACHINE_LEARNING_URL: comma-separated URLs;
// IMMICH_MACHINE_LEARNING_ENABLED=false turns ML off; FOCAL_ML_URL is accepted as an alias of the URL
// variable).
SystemConfig default_config(const EnvMap& env);

// Concurrency for a queue: the configured value, 1 for the fixed queues (facialRecognition,
// duplicateDetection), and Immich's default (or 1) for a queue the config does not know.
int queue_concurrency(const SystemConfig& config, std::string_view queue);

// Feature predicates (Immich's server feature flags).
bool smart_search_enabled(const SystemConfig& config);         // enabled ∧ clip.enabled
bool facial_recognition_enabled(const SystemConfig& config);   // enabled ∧ facialRecognition.enabled
bool duplicate_detection_enabled(const SystemConfig& config);  // smartSearch ∧ duplicateDetection.enabled
bool ocr_enabled(const SystemConfig& config);                  // enabled ∧ ocr.enabled

// CLIP model names, normalized as Immich's server does: keeps the segment after the last '/', then ':' → '_'.
std::string normalize_clip_model_name(std::string_view name);
// Embedding dimension of a (normalized or raw) CLIP model name; nullopt for an unknown model.
std::optional<int> clip_model_dimension(std::string_view name);

// Full JSON (every key) with Immich's names.
nlohmann::json to_json(const SystemConfig& config);
// Only the keys whose values differ from `defaults` (what gets stored).
nlohmann::json diff_json(const SystemConfig& config, const SystemConfig& defaults);
// Merges `partial` over `defaults` and validates. Unknown keys do not fail: their dotted paths are appended
// to `unknown_keys` when given (and logged by the store). Type errors and range errors name the key.
Expected<SystemConfig> from_json(const nlohmann::json& partial, const SystemConfig& defaults,
                                 std::vector<std::string>* unknown_keys = nullptr);

// Reads a value by dotted path ("machineLearning.clip.modelName", "job.smartSearch.concurrency").
Expected<nlohmann::json> get_path(const SystemConfig& config, std::string_view dotted_path);
// Returns a copy with one value set by dotted path; `value` is parsed as JSON when it parses (numbers,
// booleans, arrays), otherwise taken as a string. The result is validated.
Expected<SystemConfig> with_path(const SystemConfig& config, std::string_view dotted_path,
                                 std::string_view value);

// Migrations of component "settings": system_metadata(key TEXT PRIMARY KEY, value TEXT NOT NULL) — JSON
// values; key 'system-config' holds the non-default part of the config.
Status migrate(store::Database& db);

// The stored configuration with an in-process cache and change listeners. Thread-safe.
class SettingsStore {
 public:
  using Listener = std::function<void(const SystemConfig& old_config, const SystemConfig& new_config)>;

  // Loads (and validates) the stored configuration; `db` must be migrated (settings::migrate). `env` supplies
  // the defaults. IMMICH_CONFIG_FILE (JSON) replaces the stored config and makes it read-only.
  static Expected<std::unique_ptr<SettingsStore>> open(store::Database& db, const EnvMap& env);
  ~SettingsStore();
  SettingsStore(const SettingsStore&) = delete;
  SettingsStore& operator=(const SettingsStore&) = delete;

  // The cached configuration (cheap; per-item jobs use this).
  SystemConfig get() const;
  const SystemConfig& defaults() const;
  // Re-reads the stored configuration (another process may have changed it), updates the cache and notifies
  // listeners on a change. Queue-all jobs and the smart search endpoint call this.
  Expected<SystemConfig> reload();
  // Validates, stores the non-default part, updates the cache, notifies listeners. 400 while
  // IMMICH_CONFIG_FILE is in use ("Cannot update configuration while IMMICH_CONFIG_FILE is in use").
  Status update(const SystemConfig& config);
  // `focal config get/set`: dotted-path access on top of get()/update().
  Expected<nlohmann::json> get_path(std::string_view dotted_path) const;
  Status set_path(std::string_view dotted_path, std::string_view value);
  // Resets one key (or the whole config with an empty path) to its default.
  Status reset_path(std::string_view dotted_path);

  // Called (outside the store's lock) after every change of the effective config. Returns an id for
  // unsubscribe.
  int subscribe(Listener listener);
  void unsubscribe(int id);

 private:
  struct Impl;
  explicit SettingsStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace focal::settings
