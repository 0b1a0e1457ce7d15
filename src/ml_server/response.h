// SPDX-License-Identifier: AGPL-3.0-or-later
// The one JSON rendering of the typed task results (tasks/output.h) in Immich's shapes: nothing below the
// HTTP layer builds JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "models/model_name.h"
#include "tasks/output.h"

namespace focal {

struct ImageSize {
  int width = 0;
  int height = 0;
};

// Renders the response object. Each task maps to the output of the last model that finished for it; an image
// request adds imageHeight/imageWidth. Fails (500) rather than emit NaN or Infinity.
Expected<std::string> render_response(const std::vector<std::pair<Task, TaskOutput>>& outputs,
                                      std::optional<ImageSize> image_size);

// {"detail": message}
std::string render_detail(std::string_view message);

}  // namespace focal
