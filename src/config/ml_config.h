// SPDX-License-Identifier: AGPL-3.0-or-later
// focal-ml configuration: every MACHINE_LEARNING_* variable of Immich's ML service with Immich's
// defaults and parsing rules, plus focal's own FOCAL_ML_* settings. Parsed once at start-up.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/env.h"
#include "config/http_front.h"
#include "core/error.h"

namespace focal {

struct PreloadConfig {
  std::vector<std::string> clip_textual;
  std::vector<std::string> clip_visual;
  std::vector<std::string> facial_recognition_detection;
  std::vector<std::string> facial_recognition_recognition;
  std::vector<std::string> ocr_detection;
  std::vector<std::string> ocr_recognition;
};

struct MaxBatchSizeConfig {
  std::optional<int> facial_recognition;  // unset: unlimited on plain ONNX CPU/CUDA
  std::optional<int> ocr;                 // unset: 6
};

// FOCAL_ML_BATCH__<TASK>__<TYPE>="<max batch size>,<max queue delay in microseconds>" (dynamic batching).
struct BatchSetting {
  int max_batch_size = 0;  // 0: off
  int max_queue_delay_us = 0;
};

struct BatchingSettings {
  BatchSetting clip_textual;
  BatchSetting clip_visual;
  BatchSetting facial_recognition_detection;
  BatchSetting facial_recognition_recognition;
};

struct MlConfig {
  // --- Immich settings (MACHINE_LEARNING_*) ---
  std::filesystem::path cache_folder;  // default ~/.cache/immich_ml
  int model_ttl = 300;
  int model_ttl_poll_s = 10;
  int workers = 1;
  int worker_timeout = 300;  // 900 when DEVICE=rocm
  int http_keepalive_timeout_s = 2;
  int request_threads = 4;  // default: CPU count
  int model_inter_op_threads = 0;
  int model_intra_op_threads = 0;
  bool model_arena = true;
  bool ann = true;
  bool ann_fp16_turbo = false;
  int ann_tuning_level = 2;
  bool rknn = true;
  int rknn_threads = 1;
  PreloadConfig preload;
  MaxBatchSizeConfig max_batch_size;
  std::string openvino_precision = "FP32";
  std::string rocm_precision = "FP32";
  std::vector<std::string> device_ids{"0"};
  bool device_ids_set = false;  // MACHINE_LEARNING_DEVICE_IDS given explicitly
  std::string device_id = "0";
  bool test_full = false;

  // --- process settings (IMMICH_*, NO_COLOR, DEVICE) ---
  std::string host = "[::]";
  int port = 3003;
  std::string log_level = "info";
  bool no_color = false;
  std::string device;  // Docker build flavour; informational

  // --- focal-only settings (FOCAL_ML_*) ---
  std::vector<std::string> execution_providers;  // empty: Immich's automatic order
  std::size_t max_body_bytes = std::size_t{64} << 20;
  std::size_t max_field_bytes = std::size_t{1} << 20;  // non-file multipart fields
  std::uint64_t max_image_pixels = 178956970;          // Pillow's decompression-bomb error threshold
  int max_json_depth = 32;
  int http_threads = 64;  // HTTP workers (form parsing, waiting for a compute permit); see request_threads
  HttpFrontConfig http;   // FOCAL_ML_HEADER_TIMEOUT_S, _BODY_TIMEOUT_S, _MAX_CONNECTIONS, _TLS_*, _ACCESS_LOG
  std::string api_key;    // FOCAL_ML_API_KEY or the first line of FOCAL_ML_API_KEY_FILE; empty: open
  BatchingSettings batching;
  // ONNX Runtime threads and memory (docs/configuration.md, measured in docs/BENCHMARKS.md).
  bool ort_shared_threads = true;  // FOCAL_ML_ORT_SHARED_THREADS: one thread pool pair for all sessions
  bool ort_spinning = false;       // FOCAL_ML_ORT_SPINNING: idle ORT threads spin before sleeping
  bool ort_memory_pattern = true;  // FOCAL_ML_ORT_MEMORY_PATTERN: ORT's per-shape memory plans
  bool ort_arena_shrink = false;   // FOCAL_ML_ORT_ARENA_SHRINK: free the arena's unused chunks after each Run

  // The devices focal-ml runs one session per model on: MACHINE_LEARNING_DEVICE_IDS when given, else
  // MACHINE_LEARNING_DEVICE_ID (one process serves them all; see docs/configuration.md).
  std::vector<std::string> devices() const { return device_ids_set ? device_ids : std::vector{device_id}; }

  // Effective configuration as pretty JSON (for --print-config and the start-up log).
  std::string to_json() const;
};

// Parses the configuration from an environment snapshot. Errors name the offending variable.
Expected<MlConfig> parse_ml_config(const EnvMap& env, unsigned cpu_count);

// Helpers shared with other configuration parsers (pydantic's lax rules).
Expected<bool> parse_bool(const std::string& name, const std::string& value);
Expected<int> parse_int(const std::string& name, const std::string& value);

}  // namespace focal
