// SPDX-License-Identifier: AGPL-3.0-or-later
#include "faces/detector.h"

#include <chrono>
#include <string>

namespace focal {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr std::int64_t kMaxInputSide = 8192;  // a sanity bound: 640 is the norm, the canvas is float32 x3

// The graph's fixed size for a dimension, or Immich's 640 when it is dynamic.
int input_dim(const TensorSpec& input, std::size_t axis) {
  const auto v = input.shape[axis];
  return v > 0 ? static_cast<int>(v) : 640;
}

}  // namespace

Expected<std::unique_ptr<FaceDetector>> FaceDetector::load(OrtRuntime& runtime,
                                                           const std::filesystem::path& model_file,
                                                           const SessionConfig& session_config) {
  auto session = InferenceSession::load(runtime, model_file, session_config);
  if (!session) return std::move(session).error();
  const auto& s = **session;
  const auto fail = [&](const std::string& why) {
    return internal_error("Model " + model_file.string() + " is not an SCRFD face detector: " + why);
  };
  if (s.inputs().size() != 1) return fail("it has " + std::to_string(s.inputs().size()) + " inputs");
  const auto& input = s.inputs()[0];
  if (input.type != ElementType::kFloat32 || input.shape.size() != 4) {
    return fail("input 0 must be a float32 NCHW tensor");
  }
  if (input.shape[0] > 1) return fail("the batch dimension is fixed to " + std::to_string(input.shape[0]));
  if (input.shape[1] > 0 && input.shape[1] != 3) return fail("input 0 must have 3 channels");
  if (input.shape[2] > kMaxInputSide || input.shape[3] > kMaxInputSide) {
    return fail("its fixed input size is above " + std::to_string(kMaxInputSide));
  }
  auto layout = faces::scrfd_layout(s.outputs().size());
  if (!layout) return fail(std::to_string(s.outputs().size()) + " outputs (expected 6, 9, 10 or 15)");
  for (const auto& output : s.outputs()) {
    if (output.type != ElementType::kFloat32) return fail("output '" + output.name + "' is not float32");
  }
  std::unique_ptr<FaceDetector> detector(new FaceDetector());
  detector->input_height_ = input_dim(input, 2);
  detector->input_width_ = input_dim(input, 3);
  detector->layout_ = std::move(*layout);
  detector->session_ = std::move(*session);
  return detector;
}

Expected<DetectedFaces> FaceDetector::detect(const RgbImage& image, float min_score,
                                             FaceDetectTimings* timings) const {
  if (image.width <= 0 || image.height <= 0) return DetectedFaces{};
  auto t = Clock::now();
  faces::LetterboxGeometry geometry;
  auto tensor = faces::detector_tensor(image, input_width_, input_height_, &geometry);
  if (timings != nullptr) timings->preprocess_ms += ms_since(t);

  t = Clock::now();
  const std::array<std::int64_t, 4> shape{1, 3, input_height_, input_width_};
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeCPU);
  std::array<Ort::Value, 1> inputs{
      Ort::Value::CreateTensor<float>(memory, tensor.data(), tensor.size(), shape.data(), shape.size())};
  auto outputs = session_->run(inputs);
  if (!outputs) return std::move(outputs).error();
  if (timings != nullptr) timings->run_ms += ms_since(t);

  t = Clock::now();
  std::vector<std::span<const float>> views;
  views.reserve(outputs->size());
  for (const auto& value : *outputs) {
    if (!value.IsTensor()) return internal_error("Face detector returned a non-tensor output");
    const auto info = value.GetTensorTypeAndShapeInfo();
    if (info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
      return internal_error("Face detector returned a non-float32 output");
    }
    views.emplace_back(value.GetTensorData<float>(), info.GetElementCount());
  }
  auto faces =
      faces::decode_scrfd(layout_, views, input_width_, input_height_, geometry.det_scale, min_score);
  if (timings != nullptr) timings->postprocess_ms += ms_since(t);
  return faces;
}

}  // namespace focal
