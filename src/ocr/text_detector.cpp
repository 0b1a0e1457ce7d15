// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ocr/text_detector.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "ocr/geometry.h"
#include "preprocess/resize.h"

namespace focal {
namespace {

constexpr int kMinSide = 32;  // smaller images have no text the network can see

// trunc(side * ratio) rounded half-to-even to a multiple of 32 (Python's round).
int network_side(int side, double ratio) {
  const auto scaled = static_cast<double>(static_cast<long long>(side * ratio));
  return static_cast<int>(std::nearbyint(scaled / 32.0)) * 32;
}

}  // namespace

Expected<std::unique_ptr<TextDetector>> TextDetector::load(OrtRuntime& runtime,
                                                           const std::filesystem::path& model_file,
                                                           const SessionConfig& session_config) {
  auto session = InferenceSession::load(runtime, model_file, session_config);
  if (!session) return std::move(session).error();
  const std::array inputs{TensorRequirement{"", ElementType::kFloat32, {-1, 3, -1, -1}}};
  const std::array outputs{TensorRequirement{"", ElementType::kFloat32, {-1, 1, -1, -1}}};
  if (auto st = (*session)->validate(inputs, outputs); !st) {
    return internal_error("Model " + model_file.string() +
                          " is not a DB text detector: " + st.error().message);
  }
  std::unique_ptr<TextDetector> detector(new TextDetector());
  detector->session_ = std::move(*session);
  return detector;
}

Expected<DetectedText> TextDetector::detect(const RgbImage& image, const TextDetectOptions& options) const {
  DetectedText result;
  const int width = image.width;
  const int height = image.height;
  if (width < kMinSide || height < kMinSide) return result;
  const double ratio = std::min(static_cast<double>(options.max_resolution) / std::min(width, height), 1.0);
  const int net_w = network_side(width, ratio);
  const int net_h = network_side(height, ratio);
  if (net_w <= 0 || net_h <= 0) return result;

  const auto resized =
      resize_window(RgbView{image.pixels.data(), width, height},
                    ResizeWindow{net_w, net_h, 0, 0, net_w, net_h}, ResampleFilter::kLanczos);
  // BGR planes, (x - 0.5) / 127.5: upstream's normalisation (not PaddleOCR's (x / 255 - 0.5) / 0.5), which the
  // networks tolerate; kept for identical boxes.
  const auto plane = static_cast<std::size_t>(net_w) * static_cast<std::size_t>(net_h);
  std::vector<float> tensor(plane * 3);
  for (std::size_t i = 0; i < plane; ++i) {
    for (std::size_t c = 0; c < 3; ++c) {
      tensor[(2 - c) * plane + i] = (static_cast<float>(resized[i * 3 + c]) - 0.5F) / 127.5F;
    }
  }
  const std::array<std::int64_t, 4> shape{1, 3, net_h, net_w};
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeCPU);
  std::array<Ort::Value, 1> inputs{
      Ort::Value::CreateTensor<float>(memory, tensor.data(), tensor.size(), shape.data(), shape.size())};
  auto outputs = session_->run(inputs);
  if (!outputs) return std::move(outputs).error();
  const auto& map = (*outputs)[0];
  const auto info = map.GetTensorTypeAndShapeInfo();
  const auto dims = info.GetShape();
  if (dims.size() != 4 || dims[0] != 1 || dims[1] != 1 || dims[2] != net_h || dims[3] != net_w) {
    return internal_error("Text detector " + session_->model_file().string() +
                          " returned a probability map of another size than its input");
  }
  auto boxes =
      ocr::db_boxes(std::span<const float>(map.GetTensorData<float>(), info.GetElementCount()), net_w, net_h,
                    width, height, ocr::DbOptions{options.min_score, options.slow_score});
  for (const auto i : ocr::reading_order(boxes.boxes)) result.boxes.push_back(boxes.boxes[i]);
  for (const double s : boxes.scores) result.scores.push_back(static_cast<float>(s));
  return result;
}

}  // namespace focal
