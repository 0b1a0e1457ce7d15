// focal-ml: Immich-compatible machine-learning service. Parses configuration once, wires the components
// together and serves until SIGINT/SIGTERM (in-flight requests finish first).
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "clip/handlers.h"
#include "config/ml_config.h"
#include "core/logging.h"
#include "faces/handlers.h"
#include "image/decode.h"
#include "infer/providers.h"
#include "infer/runtime.h"
#include "ml_server/server.h"

namespace {

constexpr const char* kVersion = "0.1.0";

int run(const focal::MlConfig& cfg, const char* argv0) {
  focal::init_logging(*focal::parse_log_level(cfg.log_level), cfg.no_color);
  spdlog::info("focal-ml {} starting (ONNX Runtime {})", kVersion, focal::OrtRuntime::version());
  if (auto st = focal::init_image_decoding(argv0); !st) {
    spdlog::critical("{}", st.error().message);
    return 1;
  }

  focal::OrtRuntime runtime;
  const auto& available = runtime.available_providers();
  // Immich logs this at debug; at info it answers "is my GPU used?" without changing the log level.
  spdlog::info("Available ORT providers: {}", focal::python_set_repr(available));
  const auto selection = focal::select_providers(cfg.execution_providers, available);
  for (const auto& warning : selection.warnings) spdlog::warn("{}", warning);
  spdlog::info("Setting execution providers to {}, in descending order of preference",
               focal::python_list_repr(selection.providers));

  focal::ModelContext models;
  models.runtime = &runtime;
  models.cache_folder = cfg.cache_folder;
  models.session.providers = selection.providers;
  models.session.inter_op_threads = cfg.model_inter_op_threads;
  models.session.intra_op_threads = cfg.model_intra_op_threads;
  models.session.cpu_mem_arena = cfg.model_arena;
  models.session.device.device_id = cfg.device_id;
  models.session.device.openvino_precision = cfg.openvino_precision;
  models.session.device.migraphx_fp16 = cfg.rocm_precision == "FP16";

  focal::TaskRegistry registry;
  focal::register_clip_handlers(registry, models);
  focal::FaceOptions face_options;
  face_options.max_batch_size = cfg.max_batch_size.facial_recognition;
  focal::register_face_handlers(registry, models, face_options);

  focal::ServerConfig server_cfg;
  server_cfg.host = cfg.host;
  server_cfg.port = cfg.port;
  server_cfg.request_threads = cfg.request_threads;
  server_cfg.http_threads = cfg.http_threads;
  server_cfg.keepalive_timeout_s = cfg.http_keepalive_timeout_s;
  server_cfg.max_body_bytes = cfg.max_body_bytes;
  server_cfg.max_field_bytes = cfg.max_field_bytes;
  server_cfg.limits.entries.max_json_depth = cfg.max_json_depth;
  server_cfg.limits.decode.max_pixels = cfg.max_image_pixels;
  focal::MlServer server(server_cfg, registry);

  // Signals are taken by one thread with sigwait; every other thread has them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto port = server.bind();
  if (!port) {
    spdlog::critical("{}", port.error().message);
    return 1;
  }
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("Received {}, finishing in-flight requests", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server.stop();
  });
  spdlog::info("Listening on {}:{}", cfg.host, *port);
  server.serve();
  if (signal_thread.joinable()) {
    pthread_kill(signal_thread.native_handle(), SIGTERM);  // wakes sigwait if serve() ended on its own
    signal_thread.join();
  }
  spdlog::info("Stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "focal-ml: Immich-compatible machine-learning service.\n"
      "Configured by environment variables (MACHINE_LEARNING_*, IMMICH_HOST, IMMICH_PORT, FOCAL_ML_*); "
      "see docs/configuration.md."};
  bool print_config = false;
  app.add_flag("--print-config", print_config, "Print the effective configuration as JSON and exit");
  app.set_version_flag("--version", kVersion);
  CLI11_PARSE(app, argc, argv);

  const auto env = focal::process_environment();
  auto cfg = focal::parse_ml_config(env, std::thread::hardware_concurrency());
  if (!cfg) {
    std::cerr << "focal-ml: invalid configuration: " << cfg.error().message << "\n";
    return 2;
  }
  if (print_config) {
    std::cout << cfg->to_json() << "\n";
    return 0;
  }
  return run(*cfg, argv[0]);
}
