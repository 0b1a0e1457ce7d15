// SPDX-License-Identifier: AGPL-3.0-or-later
// Registers the OCR task handlers (text detection, text recognition) with the predict pipeline.
#pragma once

#include <optional>

#include "models/model_context.h"
#include "tasks/tasks.h"

namespace focal {

struct OcrOptions {
  std::optional<int> max_batch_size;  // MACHINE_LEARNING_MAX_BATCH_SIZE__OCR
};

void register_ocr_handlers(TaskRegistry& registry, const ModelContext& context,
                           const OcrOptions& options = {});

}  // namespace focal
