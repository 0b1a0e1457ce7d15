// SPDX-License-Identifier: AGPL-3.0-or-later
// Dynamic batching (BatchingConfig) on generated models: merged Runs must give every caller exactly what a
// Run of its own gives.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "infer/batcher.h"
#include "infer/session.h"

namespace focal {
namespace {

const std::filesystem::path kModels = FOCAL_TEST_MODELS;

OrtRuntime& runtime() {
  static OrtRuntime rt;
  return rt;
}

struct Input {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
  Ort::Value value() {
    const auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    return Ort::Value::CreateTensor<float>(mem, data.data(), data.size(), shape.data(), shape.size());
  }
};

Input random_input(std::vector<std::int64_t> shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0F, 2.0F);
  std::size_t n = 1;
  for (const auto d : shape) n *= static_cast<std::size_t>(d);
  Input in{std::move(shape), std::vector<float>(n)};
  for (auto& v : in.data) v = dist(rng);
  return in;
}

std::vector<float> first_output(const Expected<std::vector<Ort::Value>>& outputs) {
  const auto& v = outputs->at(0);
  const auto n = v.GetTensorTypeAndShapeInfo().GetElementCount();
  const float* p = v.GetTensorData<float>();
  return {p, p + n};
}

// Runs `inputs` concurrently through a batching session and, one by one, through a plain one.
void expect_batched_equals_unbatched(const std::filesystem::path& model, std::vector<Input> inputs,
                                     int max_batch_rows) {
  auto plain = InferenceSession::load(runtime(), model, SessionConfig{});
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  std::vector<std::vector<float>> expected;
  for (auto& in : inputs) {
    std::array<Ort::Value, 1> feed{in.value()};
    auto out = (*plain)->run(feed);
    ASSERT_TRUE(out.ok()) << out.error().message;
    expected.push_back(first_output(out));
  }

  SessionConfig config;
  // The delay is long on purpose: the leader waits until the batch is full, so every caller lands in one
  // merged Run whatever the scheduling (the test never depends on timing).
  config.batching = {max_batch_rows, std::chrono::seconds(30)};
  std::atomic<int> merged_runs{0};
  std::atomic<std::size_t> merged_callers{0};
  config.on_batch = [&](std::int64_t, std::size_t callers) {
    if (callers > 1) {
      ++merged_runs;
      merged_callers += callers;
    }
  };
  auto batched = InferenceSession::load(runtime(), model, config);
  ASSERT_TRUE(batched.ok()) << batched.error().message;
  ASSERT_TRUE((*batched)->batching());

  std::vector<std::vector<float>> got(inputs.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    threads.emplace_back([&, i] {
      std::array<Ort::Value, 1> feed{inputs[i].value()};
      auto out = (*batched)->run(feed);
      ASSERT_TRUE(out.ok()) << out.error().message;
      got[i] = first_output(out);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(merged_runs.load(), 1);
  EXPECT_EQ(merged_callers.load(), inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    ASSERT_EQ(got[i].size(), expected[i].size()) << "caller " << i;
    float worst = 0;
    for (std::size_t k = 0; k < got[i].size(); ++k)
      worst = std::max(worst, std::fabs(got[i][k] - expected[i][k]));
    EXPECT_LE(worst, 1e-6F) << "caller " << i;
    EXPECT_EQ(std::memcmp(got[i].data(), expected[i].data(), got[i].size() * sizeof(float)), 0)
        << "caller " << i << " is not bit-identical (max abs diff " << worst << ")";
  }
}

TEST(Batching, ClipVisualBatchedEqualsUnbatched) {
  std::vector<Input> inputs;
  for (unsigned i = 0; i < 4; ++i) inputs.push_back(random_input({1, 3, 224, 224}, 100 + i));
  expect_batched_equals_unbatched(kModels / "clip/ViT-B-32__openai/visual/model.onnx", std::move(inputs), 4);
}

TEST(Batching, FaceRecognitionBatchesCallersWithDifferentFaceCounts) {
  std::vector<Input> inputs;
  const std::int64_t faces[] = {1, 3, 2};
  for (unsigned i = 0; i < 3; ++i) inputs.push_back(random_input({faces[i], 3, 112, 112}, 200 + i));
  expect_batched_equals_unbatched(kModels / "facial-recognition/buffalo_l/recognition/model.onnx",
                                  std::move(inputs), 6);
}

TEST(Batching, FixedBatchGraphIsNotBatched) {
  SessionConfig config;
  config.batching = {8, std::chrono::microseconds(1000)};
  // The generated face detector has a fixed [1,3,640,640] input.
  auto session = InferenceSession::load(
      runtime(), kModels / "facial-recognition/buffalo_l/detection/model.onnx", config);
  ASSERT_TRUE(session.ok()) << session.error().message;
  EXPECT_FALSE((*session)->batching());
}

TEST(Batching, LoneCallerRunsAfterTheDelay) {
  SessionConfig config;
  config.batching = {8, std::chrono::microseconds(1000)};
  auto session =
      InferenceSession::load(runtime(), kModels / "clip/ViT-B-32__openai/visual/model.onnx", config);
  ASSERT_TRUE(session.ok());
  auto in = random_input({1, 3, 224, 224}, 7);
  std::array<Ort::Value, 1> feed{in.value()};
  auto out = (*session)->run(feed);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->at(0).GetTensorTypeAndShapeInfo().GetShape(), (std::vector<std::int64_t>{1, 512}));
}

TEST(Batching, ConcatAndSliceRoundTrip) {
  auto a = random_input({2, 3}, 1);
  auto b = random_input({1, 3}, 2);
  auto va = a.value();
  auto vb = b.value();
  const Ort::Value* parts[] = {&va, &vb};
  auto joined = detail::concat_rows(parts);
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->GetTensorTypeAndShapeInfo().GetShape(), (std::vector<std::int64_t>{3, 3}));
  auto back = detail::slice_rows(*joined, 2, 1);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::memcmp(back->GetTensorData<float>(), b.data.data(), 3 * sizeof(float)), 0);
  auto c = random_input({1, 4}, 3);
  auto vc = c.value();
  const Ort::Value* mismatched[] = {&va, &vc};
  EXPECT_FALSE(detail::concat_rows(mismatched).ok());
  EXPECT_FALSE(detail::slice_rows(*joined, 2, 2).ok());
}

}  // namespace
}  // namespace focal
