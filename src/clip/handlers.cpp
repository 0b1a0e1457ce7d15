#include "clip/handlers.h"

#include <spdlog/spdlog.h>

#include "clip/textual.h"
#include "clip/visual.h"
#include "models/lazy_cache.h"

namespace focal {
namespace {

class ClipVisualHandler : public TaskHandler {
 public:
  explicit ClipVisualHandler(ModelContext context) : context_(std::move(context)) {}

  Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs, const TaskOutput*) override {
    auto encoder = models_.get(entry.clean_name, [&]() -> Expected<std::shared_ptr<const ClipVisualEncoder>> {
      auto location = find_cached_model(context_, entry.task, entry.type, entry.clean_name, entry.model_name);
      if (!location) return std::move(location).error();
      spdlog::info("Loading visual model '{}' to memory", entry.model_name);
      auto loaded = ClipVisualEncoder::load(*context_.runtime, location->model_dir, context_.session);
      if (!loaded) return std::move(loaded).error();
      return std::shared_ptr<const ClipVisualEncoder>(std::move(*loaded));
    });
    if (!encoder) return std::move(encoder).error();
    auto embedding = (*encoder)->embed(*inputs.image);
    if (!embedding) return std::move(embedding).error();
    return EmbeddingResult{std::move(*embedding)};
  }

 private:
  ModelContext context_;
  LazyCache<ClipVisualEncoder> models_;
};

class ClipTextualHandler : public TaskHandler {
 public:
  explicit ClipTextualHandler(ModelContext context) : context_(std::move(context)) {}

  Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs, const TaskOutput*) override {
    auto encoder =
        models_.get(entry.clean_name, [&]() -> Expected<std::shared_ptr<const ClipTextualEncoder>> {
          auto location =
              find_cached_model(context_, entry.task, entry.type, entry.clean_name, entry.model_name);
          if (!location) return std::move(location).error();
          spdlog::info("Loading textual model '{}' to memory", entry.model_name);
          const bool mclip = entry.source == ModelSource::kMClip;
          const bool nllb = entry.clean_name.rfind("nllb", 0) == 0;
          auto loaded =
              ClipTextualEncoder::load(*context_.runtime, location->model_dir, context_.session, mclip, nllb);
          if (!loaded) return std::move(loaded).error();
          return std::shared_ptr<const ClipTextualEncoder>(std::move(*loaded));
        });
    if (!encoder) return std::move(encoder).error();
    auto embedding = (*encoder)->embed(*inputs.text, entry.options.language);
    if (!embedding) return std::move(embedding).error();
    return EmbeddingResult{std::move(*embedding)};
  }

 private:
  ModelContext context_;
  LazyCache<ClipTextualEncoder> models_;
};

}  // namespace

void register_clip_handlers(TaskRegistry& registry, const ModelContext& context) {
  registry.add(Task::kClip, ModelType::kVisual, std::make_shared<ClipVisualHandler>(context));
  registry.add(Task::kClip, ModelType::kTextual, std::make_shared<ClipTextualHandler>(context));
}

}  // namespace focal
