// SPDX-License-Identifier: AGPL-3.0-or-later
#include "clip/handlers.h"

#include <spdlog/spdlog.h>

#include "clip/textual.h"
#include "clip/visual.h"

namespace focal {
namespace {

ModelKey key_of(const Entry& entry) { return {entry.task, entry.type, entry.clean_name, entry.model_name}; }

Expected<ModelRegistry::AnyModel> load_visual(const ModelContext& context, const ModelKey& key,
                                              const std::string& device) {
  auto location = find_cached_model(context, key.task, key.type, key.clean_name, key.requested_name);
  if (!location) return std::move(location).error();
  spdlog::info("Loading visual model '{}' to memory", key.requested_name);
  auto loaded =
      ClipVisualEncoder::load(*context.runtime, location->model_dir, context.session_for(key, device));
  if (!loaded) return std::move(loaded).error();
  return ModelRegistry::AnyModel(std::shared_ptr<const ClipVisualEncoder>(std::move(*loaded)));
}

Expected<ModelRegistry::AnyModel> load_textual(const ModelContext& context, const ModelKey& key,
                                               const std::string& device) {
  auto location = find_cached_model(context, key.task, key.type, key.clean_name, key.requested_name);
  if (!location) return std::move(location).error();
  spdlog::info("Loading textual model '{}' to memory", key.requested_name);
  const bool mclip = model_source(key.clean_name) == ModelSource::kMClip;
  const bool nllb = key.clean_name.rfind("nllb", 0) == 0;
  auto loaded = ClipTextualEncoder::load(*context.runtime, location->model_dir,
                                         context.session_for(key, device), mclip, nllb);
  if (!loaded) return std::move(loaded).error();
  return ModelRegistry::AnyModel(std::shared_ptr<const ClipTextualEncoder>(std::move(*loaded)));
}

class ClipVisualHandler : public TaskHandler {
 public:
  explicit ClipVisualHandler(std::shared_ptr<ModelRegistry> models) : models_(std::move(models)) {}

  Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs, const TaskOutput*) override {
    auto encoder = models_->acquire_as<ClipVisualEncoder>(key_of(entry));
    if (!encoder) return std::move(encoder).error();
    auto embedding = (*encoder)->embed(*inputs.image);
    if (!embedding) return std::move(embedding).error();
    return EmbeddingResult{std::move(*embedding)};
  }

 private:
  std::shared_ptr<ModelRegistry> models_;
};

class ClipTextualHandler : public TaskHandler {
 public:
  explicit ClipTextualHandler(std::shared_ptr<ModelRegistry> models) : models_(std::move(models)) {}

  Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs, const TaskOutput*) override {
    auto encoder = models_->acquire_as<ClipTextualEncoder>(key_of(entry));
    if (!encoder) return std::move(encoder).error();
    auto embedding = (*encoder)->embed(*inputs.text, entry.options.language);
    if (!embedding) return std::move(embedding).error();
    return EmbeddingResult{std::move(*embedding)};
  }

 private:
  std::shared_ptr<ModelRegistry> models_;
};

}  // namespace

void register_clip_handlers(TaskRegistry& registry, const ModelContext& context) {
  auto ctx = with_registry(context);
  const auto models = ctx.registry;
  ctx.registry.reset();  // the loaders live in the registry: holding it from them would be a cycle (a leak)
  models->set_loader(Task::kClip, ModelType::kVisual, [ctx](const ModelKey& key, const std::string& device) {
    return load_visual(ctx, key, device);
  });
  models->set_loader(Task::kClip, ModelType::kTextual, [ctx](const ModelKey& key, const std::string& device) {
    return load_textual(ctx, key, device);
  });
  registry.add(Task::kClip, ModelType::kVisual, std::make_shared<ClipVisualHandler>(models));
  registry.add(Task::kClip, ModelType::kTextual, std::make_shared<ClipTextualHandler>(models));
}

}  // namespace focal
