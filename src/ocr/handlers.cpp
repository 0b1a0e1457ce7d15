// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ocr/handlers.h"

#include <spdlog/spdlog.h>

#include "ocr/text_detector.h"
#include "ocr/text_recognizer.h"

namespace focal {
namespace {

// The ML service's defaults when a request leaves an option out (the server sends all of them).
constexpr float kDefaultDetectionScore = 0.5F;
constexpr int kDefaultMaxResolution = 736;
constexpr float kDefaultRecognitionScore = 0.9F;

ModelKey key_of(const Entry& entry) { return {entry.task, entry.type, entry.clean_name, entry.model_name}; }

class TextDetectionHandler : public TaskHandler {
 public:
  explicit TextDetectionHandler(std::shared_ptr<ModelRegistry> models) : models_(std::move(models)) {}

  Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs, const TaskOutput*) override {
    auto detector = models_->acquire_as<TextDetector>(key_of(entry));
    if (!detector) return std::move(detector).error();
    // Options are per request; upstream keeps the first request's in the cached model instead.
    TextDetectOptions options;
    options.min_score = entry.options.min_score.value_or(kDefaultDetectionScore);
    options.max_resolution = entry.options.max_resolution.value_or(kDefaultMaxResolution);
    options.slow_score = entry.options.score_mode == "slow";
    auto found = (*detector)->detect(*inputs.image, options);
    if (!found) return std::move(found).error();
    return std::move(*found);
  }

 private:
  std::shared_ptr<ModelRegistry> models_;
};

class TextRecognitionHandler : public TaskHandler {
 public:
  explicit TextRecognitionHandler(std::shared_ptr<ModelRegistry> models) : models_(std::move(models)) {}

  Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs,
                           const TaskOutput* dependency) override {
    const auto* detected = dependency != nullptr ? std::get_if<DetectedText>(dependency) : nullptr;
    if (detected == nullptr) return internal_error("ocr.recognition ran without detection output");
    // Loaded even when no text was found, so that a missing or broken recognizer is always reported.
    auto recognizer = models_->acquire_as<TextRecognizer>(key_of(entry));
    if (!recognizer) return std::move(recognizer).error();
    auto lines =
        (*recognizer)
            ->recognize(*inputs.image, *detected, entry.options.min_score.value_or(kDefaultRecognitionScore));
    if (!lines) return std::move(lines).error();
    return std::move(*lines);
  }

 private:
  std::shared_ptr<ModelRegistry> models_;
};

}  // namespace

void register_ocr_handlers(TaskRegistry& registry, const ModelContext& context, const OcrOptions& options) {
  auto ctx = with_registry(context);
  const auto models = ctx.registry;
  ctx.registry.reset();  // the loaders live in the registry: holding it from them would be a cycle (a leak)
  models->set_loader(
      Task::kOcr, ModelType::kDetection,
      [ctx](const ModelKey& key, const std::string& device) -> Expected<ModelRegistry::AnyModel> {
        auto location = find_cached_model(ctx, key.task, key.type, key.clean_name, key.requested_name);
        if (!location) return std::move(location).error();
        spdlog::info("Loading text detection model '{}' to memory", key.requested_name);
        auto loaded = TextDetector::load(*ctx.runtime, location->model_file, ctx.session_for(key, device));
        if (!loaded) return std::move(loaded).error();
        return ModelRegistry::AnyModel(std::shared_ptr<const TextDetector>(std::move(*loaded)));
      });
  models->set_loader(
      Task::kOcr, ModelType::kRecognition,
      [ctx, options](const ModelKey& key, const std::string& device) -> Expected<ModelRegistry::AnyModel> {
        auto location = find_cached_model(ctx, key.task, key.type, key.clean_name, key.requested_name);
        if (!location) return std::move(location).error();
        spdlog::info("Loading text recognition model '{}' to memory", key.requested_name);
        auto loaded = TextRecognizer::load(*ctx.runtime, location->model_file, ctx.session_for(key, device),
                                           TextRecognizerOptions{options.max_batch_size});
        if (!loaded) return std::move(loaded).error();
        return ModelRegistry::AnyModel(std::shared_ptr<const TextRecognizer>(std::move(*loaded)));
      });
  registry.add(Task::kOcr, ModelType::kDetection, std::make_shared<TextDetectionHandler>(models));
  registry.add(Task::kOcr, ModelType::kRecognition, std::make_shared<TextRecognitionHandler>(models));
}

}  // namespace focal
