// SPDX-License-Identifier: AGPL-3.0-or-later
#include "core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace focal {

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "critical" || lower == "error") return spdlog::level::err;
  if (lower == "warning" || lower == "warn") return spdlog::level::warn;
  if (lower == "info" || lower == "log") return spdlog::level::info;
  if (lower == "debug" || lower == "verbose") return spdlog::level::debug;
  return std::nullopt;
}

void init_logging(spdlog::level::level_enum level, bool no_color) {
  spdlog::drop("focal");  // allows re-initialisation (tests, reloads)
  std::shared_ptr<spdlog::logger> logger;
  if (no_color) {
    logger = spdlog::stderr_logger_mt("focal");
  } else {
    logger = spdlog::stderr_color_mt("focal");
  }
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

}  // namespace focal
