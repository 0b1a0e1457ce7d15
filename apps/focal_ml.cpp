// focal-ml: Immich-compatible machine-learning service. Parses the command line and configuration once and
// hands over to run_ml_service (ml_service.cpp).
// GCC 12 reports a spurious null dereference inside std::string when it inlines CLI11's split() into main.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop
#include <iostream>
#include <thread>

#include "config/ml_config.h"
#include "ml_service.h"

namespace {

constexpr const char* kVersion = "0.1.0";

}  // namespace

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
  auto hub_cfg = focal::parse_hub_config(env);
  if (!hub_cfg) {
    std::cerr << "focal-ml: invalid configuration: " << hub_cfg.error().message << "\n";
    return 2;
  }
  hub_cfg->allow_any_model = hub_cfg->allow_any_model || allow_any_model;
  return run_ml_service(*cfg, *hub_cfg, argv[0], kVersion);
}
