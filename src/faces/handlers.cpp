// SPDX-License-Identifier: AGPL-3.0-or-later
#include "faces/handlers.h"

#include <spdlog/spdlog.h>

#include "faces/detector.h"
#include "faces/recognizer.h"

namespace focal {
namespace {

constexpr float kDefaultMinScore = 0.7F;  // the ML service's and the server's default (spec §1.3)

ModelKey key_of(const Entry& entry) { return {entry.task, entry.type, entry.clean_name, entry.model_name}; }

class FaceDetectionHandler : public TaskHandler {
 public:
  explicit FaceDetectionHandler(std::shared_ptr<ModelRegistry> models) : models_(std::move(models)) {}

  Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs, const TaskOutput*) override {
    auto detector = models_->acquire_as<FaceDetector>(key_of(entry));
    if (!detector) return std::move(detector).error();
    // The threshold is per request; upstream mutates shared model state instead (last caller wins).
    auto faces = (*detector)->detect(*inputs.image, entry.options.min_score.value_or(kDefaultMinScore));
    if (!faces) return std::move(faces).error();
    return std::move(*faces);
  }

 private:
  std::shared_ptr<ModelRegistry> models_;
};

class FaceRecognitionHandler : public TaskHandler {
 public:
  explicit FaceRecognitionHandler(std::shared_ptr<ModelRegistry> models) : models_(std::move(models)) {}

  Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs,
                           const TaskOutput* dependency) override {
    const auto* faces = dependency != nullptr ? std::get_if<DetectedFaces>(dependency) : nullptr;
    if (faces == nullptr)
      return internal_error("facial-recognition.recognition ran without detection output");
    // Loaded even when there is no face, like upstream (which loads before predicting): a missing or broken
    // recognizer is reported whatever the image shows.
    auto recognizer = models_->acquire_as<FaceRecognizer>(key_of(entry));
    if (!recognizer) return std::move(recognizer).error();
    auto recognized = (*recognizer)->recognize(*inputs.image, *faces);
    if (!recognized) return std::move(recognized).error();
    return std::move(*recognized);
  }

 private:
  std::shared_ptr<ModelRegistry> models_;
};

}  // namespace

void register_face_handlers(TaskRegistry& registry, const ModelContext& context, const FaceOptions& options) {
  auto ctx = with_registry(context);
  const auto models = ctx.registry;
  ctx.registry.reset();  // the loaders live in the registry: holding it from them would be a cycle (a leak)
  models->set_loader(
      Task::kFacialRecognition, ModelType::kDetection,
      [ctx](const ModelKey& key, const std::string& device) -> Expected<ModelRegistry::AnyModel> {
        auto location = find_cached_model(ctx, key.task, key.type, key.clean_name, key.requested_name);
        if (!location) return std::move(location).error();
        spdlog::info("Loading detection model '{}' to memory", key.requested_name);
        auto loaded = FaceDetector::load(*ctx.runtime, location->model_file, ctx.session_for(key, device));
        if (!loaded) return std::move(loaded).error();
        return ModelRegistry::AnyModel(std::shared_ptr<const FaceDetector>(std::move(*loaded)));
      });
  models->set_loader(
      Task::kFacialRecognition, ModelType::kRecognition,
      [ctx, options](const ModelKey& key, const std::string& device) -> Expected<ModelRegistry::AnyModel> {
        auto location = find_cached_model(ctx, key.task, key.type, key.clean_name, key.requested_name);
        if (!location) return std::move(location).error();
        spdlog::info("Loading recognition model '{}' to memory", key.requested_name);
        FaceRecognizerOptions recognizer_options;
        recognizer_options.max_batch_size = options.max_batch_size;
        auto loaded = FaceRecognizer::load(*ctx.runtime, location->model_file, ctx.session_for(key, device),
                                           recognizer_options);
        if (!loaded) return std::move(loaded).error();
        return ModelRegistry::AnyModel(std::shared_ptr<const FaceRecognizer>(std::move(*loaded)));
      });
  registry.add(Task::kFacialRecognition, ModelType::kDetection,
               std::make_shared<FaceDetectionHandler>(models));
  registry.add(Task::kFacialRecognition, ModelType::kRecognition,
               std::make_shared<FaceRecognitionHandler>(models));
}

}  // namespace focal
