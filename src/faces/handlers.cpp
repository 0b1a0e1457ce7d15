// SPDX-License-Identifier: AGPL-3.0-or-later
#include "faces/handlers.h"

#include "faces/detector.h"
#include "faces/recognizer.h"
#include "tasks/model_tasks.h"

namespace focal {
namespace {

constexpr float kDefaultMinScore = 0.7F;  // Immich's default, in its ML service and its server

}  // namespace

void register_face_handlers(TaskRegistry& registry, const ModelContext& context, const FaceOptions& options) {
  ModelTasks tasks(registry, context);
  tasks.add<FaceDetector>(
      Task::kFacialRecognition, ModelType::kDetection, "detection",
      [](OrtRuntime& runtime, const ModelKey&, const ModelLocation& location, const SessionConfig& session) {
        return FaceDetector::load(runtime, location.model_file, session);
      },
      [](const FaceDetector& detector, const Entry& entry,
         const PredictInputs& inputs) -> Expected<TaskOutput> {
        // The threshold is per request; upstream mutates shared model state instead (last caller wins).
        auto faces = detector.detect(*inputs.image, entry.options.min_score.value_or(kDefaultMinScore));
        if (!faces) return std::move(faces).error();
        return std::move(*faces);
      });
  tasks.add<FaceRecognizer, DetectedFaces>(
      Task::kFacialRecognition, ModelType::kRecognition, "recognition",
      [options](OrtRuntime& runtime, const ModelKey&, const ModelLocation& location,
                const SessionConfig& session) {
        FaceRecognizerOptions recognizer_options;
        recognizer_options.max_batch_size = options.max_batch_size;
        return FaceRecognizer::load(runtime, location.model_file, session, recognizer_options);
      },
      [](const FaceRecognizer& recognizer, const Entry&, const PredictInputs& inputs,
         const DetectedFaces& faces) -> Expected<TaskOutput> {
        auto recognized = recognizer.recognize(*inputs.image, faces);
        if (!recognized) return std::move(recognized).error();
        return std::move(*recognized);
      });
}

}  // namespace focal
