// SPDX-License-Identifier: AGPL-3.0-or-later
// Process logging set-up. Levels follow Immich's IMMICH_LOG_LEVEL mapping:
// critical/error -> error, warning/warn -> warn, info/log -> info, debug/verbose -> debug.
#pragma once

#include <spdlog/spdlog.h>

#include <optional>
#include <string>
#include <string_view>

namespace focal {

// Returns nullopt for an unknown level name.
std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name);

// Configures the default spdlog logger: level, and colour unless `no_color`.
void init_logging(spdlog::level::level_enum level, bool no_color);

}  // namespace focal
