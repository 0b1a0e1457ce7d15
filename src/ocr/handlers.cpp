// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ocr/handlers.h"

#include "ocr/text_detector.h"
#include "ocr/text_recognizer.h"
#include "tasks/model_tasks.h"

namespace focal {
namespace {

// The ML service's defaults when a request leaves an option out (the server sends all of them).
constexpr float kDefaultDetectionScore = 0.5F;
constexpr int kDefaultMaxResolution = 736;
constexpr float kDefaultRecognitionScore = 0.9F;

}  // namespace

void register_ocr_handlers(TaskRegistry& registry, const ModelContext& context, const OcrOptions& options) {
  ModelTasks tasks(registry, context);
  tasks.add<TextDetector>(
      Task::kOcr, ModelType::kDetection, "text detection",
      [](OrtRuntime& runtime, const ModelKey&, const ModelLocation& location, const SessionConfig& session) {
        return TextDetector::load(runtime, location.model_file, session);
      },
      [](const TextDetector& detector, const Entry& entry,
         const PredictInputs& inputs) -> Expected<TaskOutput> {
        // Options are per request; upstream keeps the first request's in the cached model instead.
        TextDetectOptions detect_options;
        detect_options.min_score = entry.options.min_score.value_or(kDefaultDetectionScore);
        detect_options.max_resolution = entry.options.max_resolution.value_or(kDefaultMaxResolution);
        detect_options.slow_score = entry.options.score_mode == "slow";
        auto found = detector.detect(*inputs.image, detect_options);
        if (!found) return std::move(found).error();
        return std::move(*found);
      });
  tasks.add<TextRecognizer, DetectedText>(
      Task::kOcr, ModelType::kRecognition, "text recognition",
      [options](OrtRuntime& runtime, const ModelKey&, const ModelLocation& location,
                const SessionConfig& session) {
        return TextRecognizer::load(runtime, location.model_file, session,
                                    TextRecognizerOptions{options.max_batch_size});
      },
      [](const TextRecognizer& recognizer, const Entry& entry, const PredictInputs& inputs,
         const DetectedText& detected) -> Expected<TaskOutput> {
        auto lines = recognizer.recognize(*inputs.image, detected,
                                          entry.options.min_score.value_or(kDefaultRecognitionScore));
        if (!lines) return std::move(lines).error();
        return std::move(*lines);
      });
}

}  // namespace focal
