// SPDX-License-Identifier: AGPL-3.0-or-later
// focal-ml: Immich-compatible machine-learning service. Parses the command line and configuration once and
// hands over to run_ml_service (ml_service.cpp).
#include <iostream>
#include <thread>

#include "cli_common.h"
#include "config/ml_config.h"
#include "infer/runtime.h"
#include "ml_service.h"

int main(int argc, char** argv) {
  CLI::App app{
      "focal-ml: Immich-compatible machine-learning service.\n"
      "Configured by environment variables (MACHINE_LEARNING_*, IMMICH_HOST, IMMICH_PORT, FOCAL_ML_*); "
      "see docs/configuration.md."};
  bool print_config = false;
  app.add_flag("--print-config", print_config, "Print the effective configuration as JSON and exit");
  bool allow_any_model = false;
  app.add_flag(
      "--allow-any-model", allow_any_model,
      "Accept and download model names outside Immich's supported list (also FOCAL_ML_ALLOW_ANY_MODEL)");
  app.name("focal-ml");
  // CLI11 calls this only for --version.
  app.set_version_flag("--version", [] {
    return focal::cli::version_line("focal-ml", "ONNX Runtime " + focal::OrtRuntime::version());
  });
  if (auto code = focal::cli::parse_or_exit(app, "focal-ml", argc, argv)) return *code;

  const auto env = focal::process_environment();
  auto cfg = focal::parse_ml_config(env, std::thread::hardware_concurrency());
  if (!cfg) {
    std::cerr << "focal-ml: invalid configuration: " << cfg.error().message << "\n";
    return focal::cli::kExitUsage;
  }
  if (print_config) {
    std::cout << cfg->to_json() << "\n";
    return 0;
  }
  auto hub_cfg = focal::parse_hub_config(env);
  if (!hub_cfg) {
    std::cerr << "focal-ml: invalid configuration: " << hub_cfg.error().message << "\n";
    return focal::cli::kExitUsage;
  }
  hub_cfg->allow_any_model = hub_cfg->allow_any_model || allow_any_model;
  return run_ml_service(*cfg, *hub_cfg, argv[0], focal::build::kVersion);
}
