// SPDX-License-Identifier: AGPL-3.0-or-later
// `focal-ml models list|download|verify`: the model cache managed without a running service, with the
// service's own cache layout, download and verification code.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "hub/hub.h"

namespace focal::app {

struct ModelsCommand {
  enum class Action { kList, kDownload, kVerify } action = Action::kList;
  std::vector<std::string> names;  // download: required; verify: empty = every cached model
  bool supported = false;          // list: Immich's supported names too, marked when cached
};

// Prints to stdout (problems to stderr); returns the exit code: 0, or 1 when a model failed.
int run_models_command(const ModelsCommand& command, const std::filesystem::path& cache_folder,
                       const HubConfig& hub);

}  // namespace focal::app
