// SPDX-License-Identifier: AGPL-3.0-or-later
// clip.visual per-stage timing: decode, preprocess (Pillow-exact resize + crop + normalise), ORT Run, JSON
// serialisation, over a folder of images. Prints mean milliseconds per image for each stage as JSON.
//   clip_visual_bench MODEL_DIR IMAGE_DIR [REPEATS]
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "clip/visual.h"
#include "image/decode.h"
#include "ml_server/json_format.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR IMAGE_DIR [REPEATS]\n";
    return 2;
  }
  const std::filesystem::path model_dir = argv[1];
  const int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
  if (!focal::init_image_decoding(argv[0])) return 1;
  std::vector<std::vector<std::uint8_t>> files;
  for (const auto& entry : std::filesystem::directory_iterator(argv[2])) {
    std::ifstream in(entry.path(), std::ios::binary);
    files.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::sort(files.begin(), files.end());
  focal::OrtRuntime runtime;
  auto preprocess = focal::load_clip_preprocess_config(model_dir / "preprocess_cfg.json");
  auto session = focal::InferenceSession::load(runtime, model_dir / "model.onnx", focal::SessionConfig{});
  if (!preprocess || !session) {
    std::cerr << "cannot load the model from " << model_dir << "\n";
    return 1;
  }
  double decode_ms = 0;
  double preprocess_ms = 0;
  double run_ms = 0;
  double serialize_ms = 0;
  std::size_t count = 0;
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeCPU);
  for (int r = 0; r < repeats; ++r) {
    for (const auto& bytes : files) {
      auto t = Clock::now();
      auto image = focal::decode_rgb(bytes, focal::DecodeLimits{});
      if (!image) continue;
      decode_ms += ms_since(t);

      t = Clock::now();
      auto tensor = focal::clip_visual_tensor(*image, *preprocess);
      preprocess_ms += ms_since(t);

      t = Clock::now();
      const std::array<std::int64_t, 4> shape{1, 3, preprocess->size, preprocess->size};
      std::array<Ort::Value, 1> inputs{
          Ort::Value::CreateTensor<float>(memory, tensor.data(), tensor.size(), shape.data(), shape.size())};
      auto outputs = (*session)->run(inputs);
      run_ms += ms_since(t);
      if (!outputs) return 1;

      t = Clock::now();
      const auto n = (*outputs)[0].GetTensorTypeAndShapeInfo().GetElementCount();
      const float* data = (*outputs)[0].GetTensorData<float>();
      const auto json = focal::float32_array(std::span(data, n));
      serialize_ms += ms_since(t);
      count += json.empty() ? 0 : 1;
    }
  }
  const auto per = [&](double total) { return total / static_cast<double>(std::max<std::size_t>(count, 1)); };
  std::cout << "{\"images\": " << count << ", \"decode_ms\": " << per(decode_ms)
            << ", \"preprocess_ms\": " << per(preprocess_ms) << ", \"run_ms\": " << per(run_ms)
            << ", \"serialize_ms\": " << per(serialize_ms) << "}\n";
  return 0;
}
