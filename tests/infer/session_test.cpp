// SPDX-License-Identifier: AGPL-3.0-or-later
// Loads generated models (tools/gen_test_models.py) through the session wrapper and runs them.
#include "infer/session.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <fstream>
#include <numeric>

namespace focal {
namespace {

const std::filesystem::path kModels = FOCAL_TEST_MODELS;
const std::filesystem::path kClipVisual = kModels / "clip/ViT-B-32__openai/visual/model.onnx";
const std::filesystem::path kClipTextual = kModels / "clip/ViT-B-32__openai/textual/model.onnx";

OrtRuntime& runtime() {
  static OrtRuntime rt;  // one environment per process, as in focal-ml
  return rt;
}

TEST(Session, IntrospectsAndRunsClipVisual) {
  auto session = InferenceSession::load(runtime(), kClipVisual, SessionConfig{});
  ASSERT_TRUE(session.ok()) << session.error().message;
  const auto& s = **session;
  ASSERT_EQ(s.inputs().size(), 1U);
  EXPECT_EQ(s.inputs()[0].name, "image");
  EXPECT_EQ(s.inputs()[0].type, ElementType::kFloat32);
  EXPECT_EQ(s.inputs()[0].shape, (std::vector<std::int64_t>{-1, 3, 224, 224}));
  EXPECT_EQ(s.inputs()[0].dim_names[0], "batch");
  EXPECT_EQ(s.providers(), std::vector<ExecutionProvider>{ExecutionProvider::kCpu});

  const std::vector<TensorRequirement> in{{"image", ElementType::kFloat32, {1, 3, 224, 224}}};
  const std::vector<TensorRequirement> out{{"", ElementType::kFloat32, {1, 512}}};
  EXPECT_TRUE(s.validate(in, out).ok());

  std::vector<float> pixels(3 * 224 * 224);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(i % 255) / 255.0F - 0.5F;
  const std::array<std::int64_t, 4> shape{1, 3, 224, 224};
  const auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<Ort::Value> inputs;
  inputs.push_back(
      Ort::Value::CreateTensor<float>(mem, pixels.data(), pixels.size(), shape.data(), shape.size()));
  auto outputs = s.run(inputs);
  ASSERT_TRUE(outputs.ok()) << outputs.error().message;
  const auto info = (*outputs)[0].GetTensorTypeAndShapeInfo();
  ASSERT_EQ(info.GetShape(), (std::vector<std::int64_t>{1, 512}));
  const float* emb = (*outputs)[0].GetTensorData<float>();
  double norm = 0;
  for (int i = 0; i < 512; ++i) {
    ASSERT_TRUE(std::isfinite(emb[i]));
    norm += double{emb[i]} * emb[i];
  }
  EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-4);  // the graph normalises, like the real exports
}

TEST(Session, ValidationNamesTheMismatch) {
  auto session = InferenceSession::load(runtime(), kClipTextual, SessionConfig{});
  ASSERT_TRUE(session.ok()) << session.error().message;
  const std::vector<TensorRequirement> wrong_type{{"text", ElementType::kInt64, {1, 77}}};
  const auto st = (*session)->validate(wrong_type, {});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("has type int32, expected int64"), std::string::npos)
      << st.error().message;
  const std::vector<TensorRequirement> wrong_name{{"input_ids", ElementType::kInt32, {1, 77}}};
  EXPECT_NE((*session)->validate(wrong_name, {}).error().message.find("should be named 'input_ids'"),
            std::string::npos);
  const std::vector<TensorRequirement> wrong_shape{{"text", ElementType::kInt32, {1, 64}}};
  EXPECT_NE((*session)->validate(wrong_shape, {}).error().message.find("has shape [?,77]"),
            std::string::npos);
}

TEST(Session, MissingAndCorruptFilesAreErrorsNotCrashes) {
  auto missing = InferenceSession::load(runtime(), kModels / "nope/model.onnx", SessionConfig{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);

  const auto corrupt = std::filesystem::temp_directory_path() / "focal-corrupt-model.onnx";
  std::ofstream(corrupt) << "this is not a protobuf";
  auto bad = InferenceSession::load(runtime(), corrupt, SessionConfig{});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("Failed to load model"), std::string::npos);
  std::filesystem::remove(corrupt);
}

TEST(Session, UnavailableAcceleratorFallsBackToCpu) {
  // Pretend the runtime advertised CUDA: enabling it fails in this CPU-only build, and the session must still
  // load.
  SessionConfig config;
  config.providers = {ExecutionProvider::kCuda, ExecutionProvider::kOpenVino, ExecutionProvider::kCpu};
  auto session = InferenceSession::load(runtime(), kClipVisual, config);
  ASSERT_TRUE(session.ok()) << session.error().message;
  EXPECT_EQ((*session)->providers(), std::vector<ExecutionProvider>{ExecutionProvider::kCpu});
}

TEST(Session, FallbackIsLoggedNamingTheProvider) {
  // A runtime that claims CUDA (injected list), as select_providers would pick it; the log must say which
  // provider was dropped, so "why is my GPU not used" is answered by the default log level.
  RuntimeOptions options;
  options.provider_override = std::vector<std::string>{"CUDAExecutionProvider", "CPUExecutionProvider"};
  OrtRuntime fake(options);
  const auto selection = select_providers({}, fake.available_providers());
  ASSERT_EQ(selection.providers,
            (std::vector<ExecutionProvider>{ExecutionProvider::kCuda, ExecutionProvider::kCpu}));
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  SessionConfig config;
  config.providers = selection.providers;
  auto session = InferenceSession::load(fake, kClipVisual, config);
  spdlog::set_default_logger(previous);
  ASSERT_TRUE(session.ok()) << session.error().message;
  EXPECT_EQ((*session)->providers(), std::vector<ExecutionProvider>{ExecutionProvider::kCpu});
  bool named = false;
  for (const auto& line : sink->last_formatted())
    named = named || line.find("CUDAExecutionProvider") != std::string::npos;
  EXPECT_TRUE(named);
}

TEST(Session, ExplicitThreadAndArenaOptions) {
  SessionConfig config;
  config.inter_op_threads = 2;
  config.intra_op_threads = 1;
  config.cpu_mem_arena = false;
  config.graph_optimization = GraphOptimization::kBasic;
  auto session = InferenceSession::load(runtime(), kClipVisual, config);
  ASSERT_TRUE(session.ok()) << session.error().message;
}

TEST(Session, WrongInputCountIsAnError) {
  auto session = InferenceSession::load(runtime(), kClipVisual, SessionConfig{});
  ASSERT_TRUE(session.ok());
  EXPECT_FALSE((*session)->run({}).ok());
}

}  // namespace
}  // namespace focal
