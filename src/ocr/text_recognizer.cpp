// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ocr/text_recognizer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "ocr/geometry.h"

namespace focal {
namespace {

constexpr int kHeight = 48;
constexpr double kMinAspect = 320.0 / 48.0;  // batches are at least 320 px wide
constexpr int kMaxBatch = 1024;

// A crop as the network sees it: BGR, height 48, float (x / 255 - 0.5) / 0.5 planes, zero padding on the
// right up to `target_width`.
void fill_input(const ocr::RgbCrop& crop, int target_width, float* out) {
  const double aspect = static_cast<double>(crop.width) / static_cast<double>(crop.height);
  const int width = std::min(static_cast<int>(std::ceil(kHeight * aspect)), target_width);
  const cv::Mat rgb(
      crop.height, crop.width, CV_8UC3,
      const_cast<std::uint8_t*>(crop.pixels.data()));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  cv::Mat resized;
  cv::resize(bgr, resized, cv::Size(width, kHeight), 0, 0, cv::INTER_LINEAR);
  const auto plane = static_cast<std::size_t>(kHeight) * static_cast<std::size_t>(target_width);
  for (int y = 0; y < kHeight; ++y) {
    const auto* row = resized.ptr<std::uint8_t>(y);
    for (int x = 0; x < width; ++x) {
      for (std::size_t c = 0; c < 3; ++c) {
        const float v = static_cast<float>(row[static_cast<std::size_t>(x) * 3 + c]) / 255.0F;
        out[c * plane + static_cast<std::size_t>(y) * target_width + x] = (v - 0.5F) / 0.5F;
      }
    }
  }
}

bool starts_with(std::string_view s, std::size_t at, std::string_view prefix) {
  return s.substr(at, prefix.size()) == prefix;
}

}  // namespace

std::vector<std::string> split_character_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::string current;
  std::size_t i = 0;
  bool pending = false;  // a final line without a terminator still counts
  while (i < text.size()) {
    std::size_t terminator = 0;
    const char c = text[i];
    if (c == '\r' && starts_with(text, i, "\r\n")) {
      terminator = 2;
    } else if (c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\x1c' || c == '\x1d' ||
               c == '\x1e') {
      terminator = 1;
    } else if (starts_with(text, i, "\xc2\x85")) {
      terminator = 2;
    } else if (starts_with(text, i, "\xe2\x80\xa8") || starts_with(text, i, "\xe2\x80\xa9")) {
      terminator = 3;
    }
    if (terminator != 0) {
      lines.push_back(std::move(current));
      current.clear();
      pending = false;
      i += terminator;
    } else {
      current += c;
      pending = true;
      ++i;
    }
  }
  if (pending) lines.push_back(std::move(current));
  return lines;
}

Expected<std::unique_ptr<TextRecognizer>> TextRecognizer::load(OrtRuntime& runtime,
                                                               const std::filesystem::path& model_file,
                                                               const SessionConfig& session_config,
                                                               const TextRecognizerOptions& options) {
  auto session = InferenceSession::load(runtime, model_file, session_config);
  if (!session) return std::move(session).error();
  const auto fail = [&](const std::string& why) {
    return internal_error("Model " + model_file.string() + " is not a CTC text recognizer: " + why);
  };
  const std::array inputs{TensorRequirement{"", ElementType::kFloat32, {-1, 3, -1, -1}}};
  const std::array outputs{TensorRequirement{"", ElementType::kFloat32, {-1, -1, -1}}};
  if (auto st = (*session)->validate(inputs, outputs); !st) return fail(st.error().message);
  const auto character = (*session)->custom_metadata("character");
  if (!character) return fail("it has no 'character' metadata (the character list)");
  std::unique_ptr<TextRecognizer> recognizer(new TextRecognizer());
  recognizer->characters_.emplace_back();  // CTC blank: never emitted
  for (auto& line : split_character_lines(*character)) recognizer->characters_.push_back(std::move(line));
  recognizer->characters_.emplace_back(" ");
  const auto classes = (*session)->outputs()[0].shape[2];
  if (classes > 0 && static_cast<std::size_t>(classes) != recognizer->characters_.size()) {
    return fail("it has " + std::to_string(classes) + " classes but its character list gives " +
                std::to_string(recognizer->characters_.size()));
  }
  if (options.max_batch_size) recognizer->batch_size_ = std::clamp(*options.max_batch_size, 1, kMaxBatch);
  recognizer->session_ = std::move(*session);
  return recognizer;
}

Expected<RecognizedText> TextRecognizer::recognize(const RgbImage& image, const DetectedText& detected,
                                                   float min_score) const {
  RecognizedText result;
  const std::size_t n = detected.boxes.size();
  if (n == 0) return result;
  std::vector<ocr::RgbCrop> crops;
  crops.reserve(n);
  std::vector<double> aspects;
  for (const auto& box : detected.boxes) {
    crops.push_back(ocr::perspective_crop(image.pixels.data(), image.width, image.height, box));
    const auto& crop = crops.back();
    aspects.push_back(crop.height > 0 ? static_cast<double>(crop.width) / crop.height : 0.0);
  }
  // Sorting by aspect ratio keeps the padding of each batch small.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return aspects[a] < aspects[b]; });

  std::vector<std::string> texts(n);
  std::vector<double> scores(n, 0.0);
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeCPU);
  std::vector<float> input;
  std::vector<float> kept;
  for (std::size_t begin = 0; begin < n; begin += static_cast<std::size_t>(batch_size_)) {
    const std::size_t end = std::min(n, begin + static_cast<std::size_t>(batch_size_));
    std::vector<std::size_t> members;
    double max_aspect = kMinAspect;
    for (std::size_t j = begin; j < end; ++j) {
      if (crops[order[j]].width == 0) continue;  // no area: stays an empty line with score 0
      members.push_back(order[j]);
      max_aspect = std::max(max_aspect, aspects[order[j]]);
    }
    if (members.empty()) continue;
    const int target_width = static_cast<int>(kHeight * max_aspect);
    const auto per_crop = static_cast<std::size_t>(3) * kHeight * static_cast<std::size_t>(target_width);
    input.assign(per_crop * members.size(), 0.0F);
    for (std::size_t m = 0; m < members.size(); ++m)
      fill_input(crops[members[m]], target_width, &input[m * per_crop]);
    const std::array<std::int64_t, 4> shape{static_cast<std::int64_t>(members.size()), 3, kHeight,
                                            target_width};
    std::array<Ort::Value, 1> inputs{
        Ort::Value::CreateTensor<float>(memory, input.data(), input.size(), shape.data(), shape.size())};
    auto outputs = session_->run(inputs);
    if (!outputs) return std::move(outputs).error();
    const auto& probabilities = (*outputs)[0];
    const auto dims = probabilities.GetTensorTypeAndShapeInfo().GetShape();
    if (dims.size() != 3 || dims[0] != static_cast<std::int64_t>(members.size()) ||
        dims[2] != static_cast<std::int64_t>(characters_.size())) {
      return internal_error("Text recognizer " + session_->model_file().string() +
                            " returned an output of an unexpected shape");
    }
    const auto steps = static_cast<std::size_t>(dims[1]);
    const auto classes = static_cast<std::size_t>(dims[2]);
    const float* data = probabilities.GetTensorData<float>();
    for (std::size_t m = 0; m < members.size(); ++m) {
      std::string text;
      kept.clear();
      std::size_t previous = 0;
      for (std::size_t t = 0; t < steps; ++t) {
        const float* p = data + (m * steps + t) * classes;
        const auto best = static_cast<std::size_t>(std::max_element(p, p + classes) - p);  // first maximum
        if (best != 0 && (t == 0 || best != previous)) {
          text += characters_[best];
          kept.push_back(p[best]);
        }
        previous = best;
      }
      texts[members[m]] = std::move(text);
      scores[members[m]] = ocr::line_confidence(kept);
    }
  }

  const auto width = static_cast<float>(image.width);
  const auto height = static_cast<float>(image.height);
  for (std::size_t i = 0; i < n; ++i) {
    if (!(scores[i] > static_cast<double>(min_score))) continue;
    TextQuad normalised = detected.boxes[i];
    for (std::size_t k = 0; k < 8; k += 2) {
      normalised[k] /= width;
      normalised[k + 1] /= height;
    }
    result.text.push_back(std::move(texts[i]));
    result.boxes.push_back(normalised);
    result.box_scores.push_back(i < detected.scores.size() ? detected.scores[i] : 0.0F);
    result.text_scores.push_back(scores[i]);
  }
  return result;
}

}  // namespace focal
