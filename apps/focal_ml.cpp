// SPDX-License-Identifier: AGPL-3.0-or-later
// focal-ml: Immich-compatible machine-learning service. Parses the command line and configuration once and
// hands over to run_ml_service (ml_service.cpp).
#include <iostream>
#include <thread>

#include "cli_common.h"
#include "config/ml_config.h"
#include "core/logging.h"
#include "infer/runtime.h"
#include "ml_models.h"
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
  focal::app::ModelsCommand models;
  auto* models_cmd = app.add_subcommand("models", "Manage the model cache without running the service");
  models_cmd->require_subcommand(1);
  auto* list_cmd = models_cmd->add_subcommand("list", "Cached models with their types and sizes");
  list_cmd->add_flag("--supported", models.supported,
                     "Also list Immich's supported names, marking cached ones");
  list_cmd->callback([&] { models.action = focal::app::ModelsCommand::Action::kList; });
  auto* download_cmd = models_cmd->add_subcommand(
      "download", "Download models into the cache (verified, like the service does)");
  download_cmd->add_option("names", models.names, "Model names, e.g. ViT-B-32__openai buffalo_l")->required();
  download_cmd->callback([&] { models.action = focal::app::ModelsCommand::Action::kDownload; });
  auto* verify_cmd = models_cmd->add_subcommand(
      "verify", "Check cached files against their source's sizes and hashes (hub models need the network)");
  verify_cmd->add_option("names", models.names, "Model names (default: every cached model)");
  verify_cmd->callback([&] { models.action = focal::app::ModelsCommand::Action::kVerify; });
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
  if (models_cmd->parsed()) {
    focal::init_logging(spdlog::level::warn, cfg->no_color);
    return focal::app::run_models_command(models, cfg->cache_folder, *hub_cfg);
  }
  return run_ml_service(*cfg, *hub_cfg, argv[0], focal::build::kVersion);
}
