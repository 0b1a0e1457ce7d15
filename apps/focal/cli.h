// SPDX-License-Identifier: AGPL-3.0-or-later
// Shared pieces of the `focal` command line: subcommand modules register on the CLI11 app and get the
// services lazily (opening the data directory only when a command runs).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "cli_common.h"
#include "config/focal_config.h"
#include "core/error.h"
#include "jobs/jobs.h"

namespace focal::app {

class Services;

struct CliContext {
  // The process configuration with the command line's --data-dir applied.
  std::function<const FocalConfig&()> config;
  // Opens the data directory (once) and returns the services; errors are printed by the caller.
  std::function<Expected<Services*>()> services;
  // The user whose library the command works on: --user EMAIL, or the instance owner (the first admin; see
  // auth.h). Needs the services open.
  std::function<Expected<std::int64_t>()> acting_user;
  // Set by SIGINT/SIGTERM while a command runs; long commands poll it and stop cleanly.
  const std::atomic<bool>* interrupted = nullptr;
  // Runs the selected queues in the foreground until idle with a progress bar (TTY) or plain lines; prints a
  // summary. Returns the process exit code (0 when nothing failed).
  std::function<int(const jobs::DrainOptions& options)> drain;
};

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = cli::kExitUsage;

// Prints "focal: <message>" to stderr and returns kExitFailure.
int fail(const Error& error);

// The people helper's subcommands (apps/focal/people_cli.cpp): `focal people ...`, `focal duplicates ...`.
// Each registered callback runs inside main's error handling and returns an exit code via `exit_code`.
void register_people_cli(CLI::App& app, CliContext& context, int& exit_code);
// `focal db migrate` and `focal db copy` (apps/focal/db_cli.cpp).
void register_db_cli(CLI::App& app, CliContext& context, int& exit_code);

}  // namespace focal::app
