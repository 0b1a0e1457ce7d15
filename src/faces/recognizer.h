// SPDX-License-Identifier: AGPL-3.0-or-later
// ArcFace face recognizer, as Immich runs it (InsightFace): each face aligned to the 112x112 template from
// its five landmarks, normalised (127.5/127.5, or raw pixels for MXNet-converted graphs), embedded in
// batched Runs. The model file is used as is: a dynamic first dimension (any dim_param, e.g. "None") takes
// [N,3,112,112] directly, a fixed batch is looped over.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "faces/ops.h"
#include "infer/session.h"

namespace focal {

struct FaceRecognizerOptions {
  // MACHINE_LEARNING_MAX_BATCH_SIZE__FACIAL_RECOGNITION: faces per Run on a dynamic-batch graph. Unset: all
  // faces of an image in one Run (up to kMaxFacesPerRun), or 1 when OpenVINO/MIGraphX runs the model.
  std::optional<int> max_batch_size;
};

// Per-stage wall time of one call, for the benchmark.
struct FaceRecognizeTimings {
  double align_ms = 0;  // similarity transforms, warps and normalisation
  double run_ms = 0;
  int runs = 0;
};

class FaceRecognizer {
 public:
  // A bound on one Run's input (256 faces = 38 MB of float32) so that a huge face count (say minScore 0 on a
  // busy image) cannot demand gigabytes at once; ordinary images stay in one Run.
  static constexpr int kMaxFacesPerRun = 256;

  static Expected<std::unique_ptr<FaceRecognizer>> load(OrtRuntime& runtime,
                                                        const std::filesystem::path& model_file,
                                                        const SessionConfig& session_config,
                                                        const FaceRecognizerOptions& options = {});

  // Thread-safe. One result per detected face, in the detector's order. Fails when the detector produced no
  // landmarks (a 6- or 10-output graph) for a non-empty face list.
  Expected<RecognizedFaces> recognize(const RgbImage& image, const DetectedFaces& faces,
                                      FaceRecognizeTimings* timings = nullptr) const;

  // Embeddings of already aligned 112x112 RGB crops (for tests and the benchmark).
  Expected<std::vector<std::vector<float>>> embed(const std::vector<std::vector<std::uint8_t>>& crops,
                                                  FaceRecognizeTimings* timings = nullptr) const;

  // The model input for crops, [N, 3, 112, 112] (exposed for the fidelity dump).
  std::vector<float> tensor(const std::vector<std::vector<std::uint8_t>>& crops) const;

  bool mxnet_normalisation() const { return mxnet_; }
  int faces_per_run() const { return faces_per_run_; }
  bool static_batch() const { return static_batch_ > 0; }

 private:
  FaceRecognizer() = default;
  std::unique_ptr<InferenceSession> session_;
  bool mxnet_ = false;
  int static_batch_ = 0;  // > 0: the graph's fixed batch size
  int faces_per_run_ = kMaxFacesPerRun;
};

}  // namespace focal
