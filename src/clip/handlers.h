// Registers the CLIP task handlers (clip.visual, clip.textual) with the predict pipeline.
#pragma once

#include <filesystem>

#include "infer/session.h"
#include "ml_server/predict.h"

namespace focal {

struct ModelContext {
  OrtRuntime* runtime = nullptr;
  SessionConfig session;
  std::filesystem::path cache_folder;
};

void register_clip_handlers(TaskRegistry& registry, const ModelContext& context);

}  // namespace focal
