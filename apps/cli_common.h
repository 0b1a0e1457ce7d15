// SPDX-License-Identifier: AGPL-3.0-or-later
// Command-line conventions shared by `focal` and `focal-ml`: the version line and how parse results become
// exit codes (0 for help and version, 2 for usage errors with a one-line hint, as other Unix tools do; CLI11's
// own codes 105-109 would tell a script nothing).
#pragma once

// GCC 12 reports a spurious null dereference inside std::string when it inlines CLI11's split() into main.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop
#include <iostream>
#include <optional>
#include <string>

#include "build_info.h"

namespace focal::cli {

inline constexpr int kExitUsage = 2;

// "focal 0.1.0 (git 1a2b3c4d5e6f)" plus any extra components, e.g. "ONNX Runtime 1.21.0".
inline std::string version_line(const std::string& program, const std::string& extra = "") {
  std::string line = program + " " + build::kVersion + " (git " + build::kGitRevision + ")";
  if (!extra.empty()) line += ", " + extra;
  return line;
}

// Parses the command line. Returns the exit code when the process should stop now (help, version, usage
// error), nothing when the parsed command should run (or, for subcommand callbacks, has run). With no
// arguments at all an app that needs a subcommand prints its help instead of an error.
inline std::optional<int> parse_or_exit(CLI::App& app, const std::string& program, int argc, char** argv) {
  if (argc <= 1 && app.get_require_subcommand_min() > 0) {
    std::cout << app.help();
    return 0;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << program << ": " << e.what() << "\nRun '" << program << " --help' for usage.\n";
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace focal::cli
