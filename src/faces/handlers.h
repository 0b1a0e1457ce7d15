// SPDX-License-Identifier: AGPL-3.0-or-later
// Registers the facial-recognition task handlers (detection, recognition) with the predict pipeline.
#pragma once

#include <optional>

#include "models/model_context.h"
#include "tasks/tasks.h"

namespace focal {

struct FaceOptions {
  std::optional<int> max_batch_size;  // MACHINE_LEARNING_MAX_BATCH_SIZE__FACIAL_RECOGNITION
};

void register_face_handlers(TaskRegistry& registry, const ModelContext& context,
                            const FaceOptions& options = {});

}  // namespace focal
