// SPDX-License-Identifier: AGPL-3.0-or-later
#include "clip/visual.h"

#include <array>

#include "preprocess/resize.h"

namespace focal {

std::vector<float> clip_visual_tensor(const RgbImage& image, const ClipPreprocessConfig& config) {
  const int s = config.size;
  const int w = image.width;
  const int h = image.height;
  // Immich's arithmetic exactly: trunc(H / W * S) in double, then trunc(W'/2 - S/2) for the crop.
  const int out_w = w < h ? s : static_cast<int>(static_cast<double>(w) / h * s);
  const int out_h = w < h ? static_cast<int>(static_cast<double>(h) / w * s) : s;
  ResizeWindow window{
      out_w, out_h, static_cast<int>(out_w / 2.0 - s / 2.0), static_cast<int>(out_h / 2.0 - s / 2.0), s, s};
  // Pillow's crop pads with black where the box leaves the image (only possible when a side truncates below
  // S).
  const int left_pad = std::max(0, -window.left);
  const int top_pad = std::max(0, -window.top);
  window.left = std::max(0, window.left);
  window.top = std::max(0, window.top);
  window.width = std::min(s - left_pad, out_w - window.left);
  window.height = std::min(s - top_pad, out_h - window.top);

  // One lookup table per channel: every (byte -> normalised float) mapping is computed once, in float32, in
  // the same operation order as the numpy reference: (v / 255 - mean) / std.
  std::array<std::array<float, 256>, 3> lut{};
  for (std::size_t c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      const float x = static_cast<float>(v) / 255.0F;
      lut[c][static_cast<std::size_t>(v)] = (x - config.mean[c]) / config.std[c];
    }
  }
  const auto plane = static_cast<std::size_t>(s) * static_cast<std::size_t>(s);
  std::vector<float> tensor(3 * plane);
  for (std::size_t c = 0; c < 3; ++c)
    std::fill_n(tensor.begin() + static_cast<std::ptrdiff_t>(c * plane), plane, lut[c][0]);
  if (window.width <= 0 || window.height <= 0) return tensor;

  const auto pixels = resize_window(RgbView{image.pixels.data(), w, h}, window, ResampleFilter::kBicubic);
  for (int y = 0; y < window.height; ++y) {
    const std::uint8_t* row =
        &pixels[static_cast<std::size_t>(y) * static_cast<std::size_t>(window.width) * 3];
    const auto base = static_cast<std::size_t>(y + top_pad) * static_cast<std::size_t>(s) +
                      static_cast<std::size_t>(left_pad);
    for (int x = 0; x < window.width; ++x) {
      const auto i = base + static_cast<std::size_t>(x);
      tensor[i] = lut[0][row[3 * x]];
      tensor[plane + i] = lut[1][row[3 * x + 1]];
      tensor[2 * plane + i] = lut[2][row[3 * x + 2]];
    }
  }
  return tensor;
}

Expected<std::unique_ptr<ClipVisualEncoder>> ClipVisualEncoder::load(OrtRuntime& runtime,
                                                                     const std::filesystem::path& model_dir,
                                                                     const SessionConfig& session_config) {
  auto model_config = load_clip_model_config(model_dir.parent_path() / "config.json");
  if (!model_config) return std::move(model_config).error();
  auto preprocess = load_clip_preprocess_config(model_dir / "preprocess_cfg.json");
  if (!preprocess) return std::move(preprocess).error();
  auto session = InferenceSession::load(runtime, model_dir / "model.onnx", session_config);
  if (!session) return std::move(session).error();

  const std::int64_t s = preprocess->size;
  const std::vector<TensorRequirement> inputs{{"", ElementType::kFloat32, {1, 3, s, s}}};
  const std::vector<TensorRequirement> outputs{{"", ElementType::kFloat32, {1, model_config->embed_dim}}};
  if (auto st = (*session)->validate(inputs, outputs); !st) {
    return internal_error(st.error().message + " (config.json embed_dim " +
                          std::to_string(model_config->embed_dim) + ", preprocess_cfg.json size " +
                          std::to_string(s) + ")");
  }
  std::unique_ptr<ClipVisualEncoder> encoder(new ClipVisualEncoder());
  encoder->session_ = std::move(*session);
  encoder->preprocess_ = *preprocess;
  encoder->embed_dim_ = model_config->embed_dim;
  return encoder;
}

Expected<std::vector<float>> ClipVisualEncoder::embed(const RgbImage& image) const {
  auto tensor = clip_visual_tensor(image, preprocess_);
  const std::int64_t s = preprocess_.size;
  const std::array<std::int64_t, 4> shape{1, 3, s, s};
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeCPU);
  std::array<Ort::Value, 1> inputs{
      Ort::Value::CreateTensor<float>(memory, tensor.data(), tensor.size(), shape.data(), shape.size())};
  auto outputs = session_->run(inputs);
  if (!outputs) return std::move(outputs).error();
  const auto info = (*outputs)[0].GetTensorTypeAndShapeInfo();
  if (info.GetElementCount() < static_cast<std::size_t>(embed_dim_)) {
    return internal_error("CLIP visual model returned " + std::to_string(info.GetElementCount()) +
                          " values, expected " + std::to_string(embed_dim_));
  }
  const float* row0 = (*outputs)[0].GetTensorData<float>();
  return std::vector<float>(row0, row0 + embed_dim_);
}

}  // namespace focal
