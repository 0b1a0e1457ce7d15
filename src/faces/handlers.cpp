#include "faces/handlers.h"

#include <spdlog/spdlog.h>

#include "faces/detector.h"
#include "faces/recognizer.h"
#include "models/lazy_cache.h"

namespace focal {
namespace {

constexpr float kDefaultMinScore = 0.7F;  // the ML service's and the server's default (spec §1.3)

class FaceDetectionHandler : public TaskHandler {
 public:
  explicit FaceDetectionHandler(ModelContext context) : context_(std::move(context)) {}

  Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs, const TaskOutput*) override {
    auto detector = models_.get(entry.clean_name, [&]() -> Expected<std::shared_ptr<const FaceDetector>> {
      auto location = find_cached_model(context_, entry.task, entry.type, entry.clean_name, entry.model_name);
      if (!location) return std::move(location).error();
      spdlog::info("Loading detection model '{}' to memory", entry.model_name);
      auto loaded = FaceDetector::load(*context_.runtime, location->model_file, context_.session);
      if (!loaded) return std::move(loaded).error();
      return std::shared_ptr<const FaceDetector>(std::move(*loaded));
    });
    if (!detector) return std::move(detector).error();
    // The threshold is per request; upstream mutates shared model state instead (last caller wins).
    auto faces = (*detector)->detect(*inputs.image, entry.options.min_score.value_or(kDefaultMinScore));
    if (!faces) return std::move(faces).error();
    return std::move(*faces);
  }

 private:
  ModelContext context_;
  LazyCache<FaceDetector> models_;
};

class FaceRecognitionHandler : public TaskHandler {
 public:
  FaceRecognitionHandler(ModelContext context, FaceOptions options)
      : context_(std::move(context)), options_(options) {}

  Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs,
                           const TaskOutput* dependency) override {
    const auto* faces = dependency != nullptr ? std::get_if<DetectedFaces>(dependency) : nullptr;
    if (faces == nullptr)
      return internal_error("facial-recognition.recognition ran without detection output");
    // Loaded even when there is no face, like upstream (which loads before predicting): a missing or broken
    // recognizer is reported whatever the image shows.
    auto recognizer = models_.get(entry.clean_name, [&]() -> Expected<std::shared_ptr<const FaceRecognizer>> {
      auto location = find_cached_model(context_, entry.task, entry.type, entry.clean_name, entry.model_name);
      if (!location) return std::move(location).error();
      spdlog::info("Loading recognition model '{}' to memory", entry.model_name);
      FaceRecognizerOptions options;
      options.max_batch_size = options_.max_batch_size;
      auto loaded = FaceRecognizer::load(*context_.runtime, location->model_file, context_.session, options);
      if (!loaded) return std::move(loaded).error();
      return std::shared_ptr<const FaceRecognizer>(std::move(*loaded));
    });
    if (!recognizer) return std::move(recognizer).error();
    auto recognized = (*recognizer)->recognize(*inputs.image, *faces);
    if (!recognized) return std::move(recognized).error();
    return std::move(*recognized);
  }

 private:
  ModelContext context_;
  FaceOptions options_;
  LazyCache<FaceRecognizer> models_;
};

}  // namespace

void register_face_handlers(TaskRegistry& registry, const ModelContext& context, const FaceOptions& options) {
  registry.add(Task::kFacialRecognition, ModelType::kDetection,
               std::make_shared<FaceDetectionHandler>(context));
  registry.add(Task::kFacialRecognition, ModelType::kRecognition,
               std::make_shared<FaceRecognitionHandler>(context, options));
}

}  // namespace focal
