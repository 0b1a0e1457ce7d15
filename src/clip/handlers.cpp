#include "clip/handlers.h"

#include <spdlog/spdlog.h>

#include "clip/visual.h"
#include "models/lazy_cache.h"
#include "models/model_cache.h"

namespace focal {
namespace {

// Loads a model's files from the Immich cache, or explains what is missing (no download yet).
Expected<ModelLocation> find_model(const ModelContext& context, const Entry& entry) {
  auto location = locate_model(context.cache_folder, entry.task, entry.type, entry.clean_name);
  if (!location) return location;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(location->model_file, ec)) {
    return Error{ErrorKind::kUnavailable, "Model '" + entry.model_name +
                                              "' is not in the model cache (expected " +
                                              location->model_file.string() + ")"};
  }
  return location;
}

class ClipVisualHandler : public TaskHandler {
 public:
  explicit ClipVisualHandler(ModelContext context) : context_(std::move(context)) {}

  Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs, const TaskOutput*) override {
    auto encoder = models_.get(entry.clean_name, [&]() -> Expected<std::shared_ptr<const ClipVisualEncoder>> {
      auto location = find_model(context_, entry);
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

}  // namespace

void register_clip_handlers(TaskRegistry& registry, const ModelContext& context) {
  registry.add(Task::kClip, ModelType::kVisual, std::make_shared<ClipVisualHandler>(context));
}

}  // namespace focal
