// SPDX-License-Identifier: AGPL-3.0-or-later
// focal-ml's wiring: configuration in, components built and connected, served until SIGINT/SIGTERM
// (in-flight requests finish first). Kept apart from main() so that main stays a thin CLI front.
#include "ml_service.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <thread>
#include <tuple>

#include "clip/handlers.h"
#include "core/logging.h"
#include "core/memory.h"
#include "faces/handlers.h"
#include "faces/ops.h"
#include "image/decode.h"
#include "infer/providers.h"
#include "infer/runtime.h"
#include "ml_server/observability.h"
#include "ml_server/server.h"
#include "models/model_registry.h"
#include "ocr/handlers.h"

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

void log_memory(const char* when) {
  if (const auto rss = focal::resident_memory_bytes()) {
    spdlog::info("Memory {}: RSS {:.1f} MiB ({})", when, static_cast<double>(*rss) / (1024.0 * 1024.0),
                 focal::allocator_name());
  }
}

// MACHINE_LEARNING_PRELOAD__*: loaded before serving, in Immich's order, and pinned (never unloaded by TTL).
void preload(const focal::MlConfig& cfg, focal::ModelRegistry& models) {
  using focal::ModelType;
  using focal::Task;
  const std::vector<std::tuple<Task, ModelType, const std::vector<std::string>*>> lists = {
      {Task::kClip, ModelType::kTextual, &cfg.preload.clip_textual},
      {Task::kClip, ModelType::kVisual, &cfg.preload.clip_visual},
      {Task::kFacialRecognition, ModelType::kDetection, &cfg.preload.facial_recognition_detection},
      {Task::kFacialRecognition, ModelType::kRecognition, &cfg.preload.facial_recognition_recognition},
      {Task::kOcr, ModelType::kDetection, &cfg.preload.ocr_detection},
      {Task::kOcr, ModelType::kRecognition, &cfg.preload.ocr_recognition}};
  for (const auto& [task, type, names] : lists) {
    for (const auto& name : *names) {
      auto clean = focal::validate_model_name(name);
      if (!clean) {
        spdlog::error("Cannot preload {} model '{}': {}", focal::to_string(task), name,
                      clean.error().message);
        continue;
      }
      // A failure is logged and the model is loaded on first use instead (Immich's worker fails to boot).
      if (auto st = models.preload({task, type, *clean, name}); !st) {
        spdlog::error("Preloading {}.{} model '{}' failed: {}", focal::to_string(task),
                      focal::to_string(type), name, st.error().message);
      }
    }
  }
}

focal::BatchingConfig batching(const focal::BatchSetting& setting) {
  return {setting.max_batch_size, std::chrono::microseconds(setting.max_queue_delay_us)};
}

// Faces per recognizer Run on CPU when MACHINE_LEARNING_MAX_BATCH_SIZE__FACIAL_RECOGNITION is unset.
constexpr int kCpuRecognizerBatch = 16;

}  // namespace

int run_ml_service(const focal::MlConfig& cfg, const focal::HubConfig& hub_cfg, const char* argv0,
                   const char* version) {
  // Signals are taken by one thread with sigwait; every other thread (ORT pools, HTTP workers) inherits
  // them blocked, so this comes before any thread is started.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // As many heap arenas as requests run at once (more only fragment), and buffers of 128 KiB and more mapped on
  // their own (measured in docs/BENCHMARKS.md: OCR, and memory under a faces load).
  focal::tune_allocator({std::max(cfg.request_threads, 2), std::size_t{128} << 10});
  focal::init_logging(*focal::parse_log_level(cfg.log_level), cfg.no_color);
  spdlog::info("focal-ml {} starting (ONNX Runtime {})", version, focal::OrtRuntime::version());
  if (auto st = focal::init_image_decoding(argv0); !st) {
    spdlog::critical("{}", st.error().message);
    return 1;
  }
  focal::faces::limit_image_threads(1);  // requests already run in parallel (docs/adr/0004)

  const auto available = focal::OrtRuntime::linked_providers();
  // Immich logs this at debug; at info it answers "is my GPU used?" without changing the log level.
  spdlog::info("Available ORT providers: {}", focal::python_set_repr(available));
  const auto selection = focal::select_providers(cfg.execution_providers, available);
  for (const auto& warning : selection.warnings) spdlog::warn("{}", warning);
  spdlog::info("Setting execution providers to {}, in descending order of preference",
               focal::python_list_repr(selection.providers));
  focal::RuntimeOptions runtime_options;
  const auto threads =
      focal::resolve_threads(cfg.model_inter_op_threads, cfg.model_intra_op_threads, selection.providers);
  if (cfg.ort_shared_threads)
    runtime_options.shared_threads = focal::SharedThreadPools{threads, cfg.ort_spinning};
  spdlog::info("ORT threads: {} inter-op, {} intra-op ({}), spinning {}", threads.inter_op_threads,
               threads.intra_op_threads,
               cfg.ort_shared_threads ? "one pool for all models" : "pools per model",
               cfg.ort_spinning ? "on" : "off");
  focal::OrtRuntime runtime(runtime_options);

  // One process serves every device: one session per (model, device), requests to the least busy device.
  // With CPU as the only provider, device ids mean nothing and one session per model is kept.
  const bool cpu_only = selection.providers.size() == 1;
  auto devices = cfg.devices();
  if (cpu_only && devices.size() > 1) {
    spdlog::info("CPU only: one session per model; MACHINE_LEARNING_DEVICE_IDS {} not used", join(devices));
    devices.resize(1);
  }
  if (cfg.workers > 1) {
    spdlog::info(
        "MACHINE_LEARNING_WORKERS={}: focal-ml runs one process; concurrency comes from "
        "MACHINE_LEARNING_REQUEST_THREADS and devices from MACHINE_LEARNING_DEVICE_IDS",
        cfg.workers);
  }
  focal::RegistryOptions registry_options;
  registry_options.ttl = std::chrono::seconds(cfg.model_ttl);
  registry_options.devices = devices;
  auto model_registry = std::make_shared<focal::ModelRegistry>(registry_options);
  spdlog::info("Sessions per model on device(s) {}; model TTL {} s", join(devices), cfg.model_ttl);

  focal::MetricsRegistry metrics_registry;
  focal::ServiceMetrics metrics(metrics_registry);
  metrics.watch(model_registry);

  focal::ModelContext models;
  models.registry = model_registry;
  models.batch_observer = [&metrics](const focal::ModelKey& key) { return metrics.batch_observer(key); };
  const std::pair<std::pair<focal::Task, focal::ModelType>, const focal::BatchSetting*> batch_settings[] = {
      {{focal::Task::kClip, focal::ModelType::kTextual}, &cfg.batching.clip_textual},
      {{focal::Task::kClip, focal::ModelType::kVisual}, &cfg.batching.clip_visual},
      {{focal::Task::kFacialRecognition, focal::ModelType::kDetection},
       &cfg.batching.facial_recognition_detection},
      {{focal::Task::kFacialRecognition, focal::ModelType::kRecognition},
       &cfg.batching.facial_recognition_recognition}};
  for (const auto& [key, setting] : batch_settings) {
    if (setting->max_batch_size > 1) models.batching[key] = batching(*setting);
  }
  models.runtime = &runtime;
  models.cache_folder = cfg.cache_folder;
  focal::ModelDownloader downloader(hub_cfg);  // models missing from the cache come from the hub (src/hub)
  models.fetch_missing = [&downloader](focal::Task task, std::string_view clean_name,
                                       std::string_view requested, const focal::ModelLocation& location) {
    return downloader.ensure(
        {task, std::string(clean_name), std::string(requested), location.cache_dir, location.model_file});
  };
  models.session.providers = selection.providers;
  models.session.inter_op_threads = cfg.model_inter_op_threads;
  models.session.intra_op_threads = cfg.model_intra_op_threads;
  models.session.cpu_mem_arena = cfg.model_arena;
  models.session.allow_spinning = cfg.ort_spinning;
  models.session.memory_pattern = cfg.ort_memory_pattern;
  models.session.shrink_arena = cfg.ort_arena_shrink;
  models.session.device.device_id = cfg.device_id;
  models.session.device.openvino_precision = cfg.openvino_precision;
  models.session.device.migraphx_fp16 = cfg.rocm_precision == "FP16";

  focal::TaskRegistry registry;
  focal::register_clip_handlers(registry, models);
  focal::FaceOptions face_options;
  face_options.max_batch_size = cfg.max_batch_size.facial_recognition;
  // On CPU, all faces of a crowd photo in one recognizer Run are no faster per face than batches of 16, and ORT
  // keeps an arena block sized for the largest crowd seen for the life of the session (docs/BENCHMARKS.md).
  if (!face_options.max_batch_size && cpu_only) face_options.max_batch_size = kCpuRecognizerBatch;
  focal::register_face_handlers(registry, models, face_options);
  focal::register_ocr_handlers(registry, models, focal::OcrOptions{cfg.max_batch_size.ocr});

  focal::ServerConfig server_cfg;
  server_cfg.host = cfg.host;
  server_cfg.port = cfg.port;
  server_cfg.request_threads = cfg.request_threads;
  server_cfg.http_threads = cfg.http_threads;
  server_cfg.http_limits =
      focal::http::limits_from(cfg.http, std::chrono::seconds(std::max(cfg.http_keepalive_timeout_s, 1)));
  server_cfg.tls = focal::http::tls_from(cfg.http);
  server_cfg.access_log = cfg.http.access_log;
  server_cfg.max_body_bytes = cfg.max_body_bytes;
  server_cfg.max_field_bytes = cfg.max_field_bytes;
  server_cfg.limits.entries.max_json_depth = cfg.max_json_depth;
  server_cfg.limits.entries.allow_any_model = hub_cfg.allow_any_model;
  server_cfg.limits.decode.max_pixels = cfg.max_image_pixels;
  server_cfg.api_key = cfg.api_key;
  if (cfg.api_key.empty()) {
    spdlog::info("No API key set (FOCAL_ML_API_KEY): every client that reaches the port can use the service");
  } else {
    spdlog::info("API key required on every route but / and /ping");
  }
  focal::MlServer server(server_cfg, registry, &metrics);

  auto port = server.front().bind();
  if (!port) {
    spdlog::critical("{}", port.error().message);
    return 1;
  }
  log_memory("at start");
  preload(cfg, *model_registry);
  if (model_registry->counters().loads > 0) log_memory("after preloading");
  if (cfg.model_ttl > 0) {
    // Immich polls its idle check every MODEL_TTL_POLL_S; with polling off its cache still expires entries
    // after the TTL, so focal then checks once per TTL.
    const int poll_s = cfg.model_ttl_poll_s > 0 ? cfg.model_ttl_poll_s : cfg.model_ttl;
    model_registry->start_reaper(std::chrono::seconds(poll_s), [](std::size_t) {
      focal::release_free_memory();
      log_memory("after unloading");
    });
  }
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("Received {}, finishing in-flight requests", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server.front().stop();
  });
  spdlog::info("Listening on {}:{}", cfg.host, *port);
  server.front().serve();
  if (signal_thread.joinable()) {
    pthread_kill(signal_thread.native_handle(), SIGTERM);  // wakes sigwait if serve() ended on its own
    signal_thread.join();
  }
  model_registry->stop_reaper();
  spdlog::info("Stopped");
  return 0;
}
