// SPDX-License-Identifier: AGPL-3.0-or-later
#include "clip/handlers.h"

#include "clip/textual.h"
#include "clip/visual.h"
#include "tasks/model_tasks.h"

namespace focal {

void register_clip_handlers(TaskRegistry& registry, const ModelContext& context) {
  ModelTasks tasks(registry, context);
  tasks.add<ClipVisualEncoder>(
      Task::kClip, ModelType::kVisual, "visual",
      [](OrtRuntime& runtime, const ModelKey&, const ModelLocation& location, const SessionConfig& session) {
        return ClipVisualEncoder::load(runtime, location.model_dir, session);
      },
      [](const ClipVisualEncoder& encoder, const Entry&,
         const PredictInputs& inputs) -> Expected<TaskOutput> {
        auto embedding = encoder.embed(*inputs.image);
        if (!embedding) return std::move(embedding).error();
        return EmbeddingResult{std::move(*embedding)};
      });
  tasks.add<ClipTextualEncoder>(
      Task::kClip, ModelType::kTextual, "textual",
      [](OrtRuntime& runtime, const ModelKey& key, const ModelLocation& location,
         const SessionConfig& session) {
        const bool mclip = model_source(key.clean_name) == ModelSource::kMClip;
        const bool nllb = key.clean_name.rfind("nllb", 0) == 0;
        return ClipTextualEncoder::load(runtime, location.model_dir, session, mclip, nllb);
      },
      [](const ClipTextualEncoder& encoder, const Entry& entry,
         const PredictInputs& inputs) -> Expected<TaskOutput> {
        auto embedding = encoder.embed(*inputs.text, entry.options.language);
        if (!embedding) return std::move(embedding).error();
        return EmbeddingResult{std::move(*embedding)};
      });
}

}  // namespace focal
