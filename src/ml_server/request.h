// SPDX-License-Identifier: AGPL-3.0-or-later
// Typed /predict requests: the `entries` JSON parsed with Immich's rules and status codes.
#pragma once

#include <string_view>
#include <vector>

#include "core/error.h"
#include "tasks/entry.h"

namespace focal {

struct EntriesLimits {
  int max_json_depth = 32;
  bool allow_any_model = false;
};

// Parses `entries` into entries in request order. Immich's 422 "Invalid request format." cases keep that
// message; cases where Immich answers 500 (entry not an object, unknown task/type/model) answer 422 here.
Expected<std::vector<Entry>> parse_entries(std::string_view json_text, const EntriesLimits& limits);

// The 400 that Immich returns when a phase-2 entry's dependency is not part of the same request.
Status check_dependencies(const std::vector<Entry>& entries);

}  // namespace focal
