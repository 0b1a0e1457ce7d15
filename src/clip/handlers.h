// SPDX-License-Identifier: AGPL-3.0-or-later
// Registers the CLIP task handlers (clip.visual, clip.textual) with the predict pipeline.
#pragma once

#include "models/model_context.h"
#include "tasks/tasks.h"

namespace focal {

void register_clip_handlers(TaskRegistry& registry, const ModelContext& context);

}  // namespace focal
