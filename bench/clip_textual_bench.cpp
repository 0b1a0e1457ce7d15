// SPDX-License-Identifier: AGPL-3.0-or-later
// clip.textual per-stage timing: text cleaning + tokenisation, ORT Run, JSON serialisation, over a list of
// queries (one per line). Prints mean milliseconds per query for each stage as JSON.
//   clip_textual_bench MODEL_DIR QUERIES_FILE [REPEATS]
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "clip/textual.h"
#include "ml_server/json_format.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR QUERIES_FILE [REPEATS]\n";
    return 2;
  }
  const std::filesystem::path model_dir = argv[1];
  const int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
  std::vector<std::string> queries;
  std::ifstream in(argv[2]);
  for (std::string line; std::getline(in, line);) queries.push_back(line);

  focal::OrtRuntime runtime;
  auto config = focal::load_clip_model_config(model_dir.parent_path() / "config.json");
  auto pad = focal::load_pad_token(model_dir / "tokenizer_config.json");
  if (!config || !pad) return 1;
  auto tokenizer = focal::Tokenizer::from_file(model_dir / "tokenizer.json",
                                               focal::TokenizerOptions{config->context_length, *pad});
  auto session = focal::InferenceSession::load(runtime, model_dir / "model.onnx", focal::SessionConfig{});
  if (!tokenizer || !session) {
    std::cerr << "cannot load the model from " << model_dir << "\n";
    return 1;
  }
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeCPU);
  double tokenize_ms = 0;
  double run_ms = 0;
  double serialize_ms = 0;
  std::size_t count = 0;
  for (int r = 0; r < repeats; ++r) {
    for (const auto& query : queries) {
      auto t = Clock::now();
      auto encoding = tokenizer->encode(focal::clean_text(query, config->canonicalize));
      tokenize_ms += ms_since(t);

      t = Clock::now();
      const std::array<std::int64_t, 2> shape{1, static_cast<std::int64_t>(encoding.ids.size())};
      std::array<Ort::Value, 1> inputs{Ort::Value::CreateTensor<std::int32_t>(
          memory, encoding.ids.data(), encoding.ids.size(), shape.data(), shape.size())};
      auto outputs = (*session)->run(inputs);
      run_ms += ms_since(t);
      if (!outputs) return 1;

      t = Clock::now();
      const auto n = (*outputs)[0].GetTensorTypeAndShapeInfo().GetElementCount();
      const auto json = focal::float32_array(std::span((*outputs)[0].GetTensorData<float>(), n));
      serialize_ms += ms_since(t);
      count += json.empty() ? 0 : 1;
    }
  }
  const auto per = [&](double total) { return total / static_cast<double>(std::max<std::size_t>(count, 1)); };
  std::cout << "{\"queries\": " << count << ", \"tokenize_ms\": " << per(tokenize_ms)
            << ", \"run_ms\": " << per(run_ms) << ", \"serialize_ms\": " << per(serialize_ms) << "}\n";
  return 0;
}
