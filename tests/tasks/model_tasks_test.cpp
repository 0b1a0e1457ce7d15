// SPDX-License-Identifier: AGPL-3.0-or-later
// ModelTasks with fake models: what every family's registration relies on (cache lookup, one load per model,
// phase-2 dependency checks before loading, no registry cycle).
#include "tasks/model_tasks.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace focal {
namespace {

namespace fs = std::filesystem;

struct FakeEncoder {
  fs::path file;
  std::string device;
  int generation = 0;
};

struct FakeRecognizer {};

OrtRuntime& runtime() {
  static OrtRuntime rt;
  return rt;
}

Entry entry(Task task, ModelType type, const std::string& name) {
  return {task, type, name, name, task == Task::kClip ? ModelSource::kOpenClip : ModelSource::kInsightFace,
          {}};
}

class ModelTasksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("focal-model-tasks-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    for (const auto* dir : {"clip/ViT-B-32__openai/visual", "facial-recognition/buffalo_l/recognition"}) {
      fs::create_directories(root_ / dir);
      std::ofstream(root_ / dir / "model.onnx") << "fake";
    }
    context_.runtime = &runtime();
    context_.cache_folder = root_;
    context_.registry = std::make_shared<ModelRegistry>(RegistryOptions{});
  }
  void TearDown() override { fs::remove_all(root_); }

  ModelLoad<FakeEncoder> encoder_loader() {
    return [this](OrtRuntime&, const ModelKey&, const ModelLocation& location, const SessionConfig& session) {
      ++loads_;
      return std::make_unique<FakeEncoder>(
          FakeEncoder{location.model_file, session.device.device_id, loads_});
    };
  }

  fs::path root_;
  ModelContext context_;
  TaskRegistry tasks_;
  int loads_ = 0;
};

TEST_F(ModelTasksTest, LoadsFromTheCacheOnceAndRunsTheLeasedModel) {
  ModelTasks(tasks_, context_)
      .add<FakeEncoder>(
          Task::kClip, ModelType::kVisual, "visual", encoder_loader(),
          [this](const FakeEncoder& model, const Entry&, const PredictInputs&) -> Expected<TaskOutput> {
            EXPECT_EQ(model.file.string(), (root_ / "clip/ViT-B-32__openai/visual/model.onnx").string());
            EXPECT_EQ(model.device, "0");
            return EmbeddingResult{{static_cast<float>(model.generation)}};
          });
  EXPECT_EQ(tasks_.find(Task::kClip, ModelType::kTextual), nullptr);
  auto* handler = tasks_.find(Task::kClip, ModelType::kVisual);
  ASSERT_NE(handler, nullptr);
  for (int i = 0; i < 2; ++i) {
    auto output = handler->run(entry(Task::kClip, ModelType::kVisual, "ViT-B-32__openai"), {}, nullptr);
    ASSERT_TRUE(output.ok()) << output.error().message;
    EXPECT_EQ(std::get<EmbeddingResult>(*output).values, std::vector<float>{1.0F});
  }
  EXPECT_EQ(loads_, 1);
  const auto slots = context_.registry->snapshot();
  ASSERT_EQ(slots.size(), 1U);
  EXPECT_TRUE(slots[0].loaded);
  EXPECT_EQ(slots[0].outstanding, 0);  // the lease ended with the run
}

TEST_F(ModelTasksTest, AModelMissingFromTheCacheIsUnavailableWithoutCallingTheLoader) {
  ModelTasks(tasks_, context_)
      .add<FakeEncoder>(Task::kClip, ModelType::kVisual, "visual", encoder_loader(),
                        [](const FakeEncoder&, const Entry&, const PredictInputs&) -> Expected<TaskOutput> {
                          return EmbeddingResult{};
                        });
  auto output = tasks_.find(Task::kClip, ModelType::kVisual)
                    ->run(entry(Task::kClip, ModelType::kVisual, "ViT-L-14__openai"), {}, nullptr);
  ASSERT_FALSE(output.ok());
  EXPECT_EQ(output.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(loads_, 0);
}

TEST_F(ModelTasksTest, PhaseTwoChecksItsDependencyBeforeLoading) {
  ModelTasks(tasks_, context_)
      .add<FakeRecognizer, DetectedFaces>(
          Task::kFacialRecognition, ModelType::kRecognition, "recognition",
          [this](OrtRuntime&, const ModelKey&, const ModelLocation&, const SessionConfig&) {
            ++loads_;
            return std::make_unique<FakeRecognizer>();
          },
          [](const FakeRecognizer&, const Entry&, const PredictInputs&,
             const DetectedFaces& faces) -> Expected<TaskOutput> {
            RecognizedFaces out;
            for (const auto& box : faces.boxes) out.faces.push_back({box, {}, 1.0F});
            return out;
          });
  auto* handler = tasks_.find(Task::kFacialRecognition, ModelType::kRecognition);
  ASSERT_NE(handler, nullptr);
  const auto rec = entry(Task::kFacialRecognition, ModelType::kRecognition, "buffalo_l");
  const TaskOutput wrong = DetectedText{};
  for (const auto* dependency : {static_cast<const TaskOutput*>(nullptr), &wrong}) {
    auto output = handler->run(rec, {}, dependency);
    ASSERT_FALSE(output.ok());
    EXPECT_EQ(output.error().kind, ErrorKind::kInternal);
    EXPECT_EQ(output.error().message, "facial-recognition.recognition ran without detection output");
  }
  EXPECT_EQ(loads_, 0);
  DetectedFaces detected;
  detected.boxes = {{1, 2, 3, 4}, {5, 6, 7, 8}};
  const TaskOutput dependency = detected;
  auto output = handler->run(rec, {}, &dependency);
  ASSERT_TRUE(output.ok()) << output.error().message;
  EXPECT_EQ(std::get<RecognizedFaces>(*output).faces.size(), 2U);
  EXPECT_EQ(loads_, 1);
}

TEST_F(ModelTasksTest, LoadersDoNotKeepTheRegistryAlive) {
  ModelTasks(tasks_, context_)
      .add<FakeEncoder>(Task::kClip, ModelType::kVisual, "visual", encoder_loader(),
                        [](const FakeEncoder&, const Entry&, const PredictInputs&) -> Expected<TaskOutput> {
                          return EmbeddingResult{};
                        });
  const std::weak_ptr<ModelRegistry> registry = context_.registry;
  context_.registry.reset();
  EXPECT_FALSE(registry.expired());  // the handler holds it
  tasks_ = TaskRegistry();
  EXPECT_TRUE(registry.expired());
}

}  // namespace
}  // namespace focal
