// SPDX-License-Identifier: AGPL-3.0-or-later
// The /predict pipeline with fake handlers: routing, phases, input checks and error mapping.
#include "ml_server/predict.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

namespace focal {
namespace {

class FakeDetector : public TaskHandler {
 public:
  Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs,
                           const TaskOutput* dependency) override {
    EXPECT_EQ(dependency, nullptr);
    EXPECT_NE(inputs.image, nullptr);
    DetectedFaces d;
    d.boxes.push_back({1, 2, 3, 4});
    d.scores.push_back(entry.options.min_score.value_or(0.7F));
    d.landmarks.push_back({});
    return d;
  }
};

class FakeRecognizer : public TaskHandler {
 public:
  Expected<TaskOutput> run(const Entry&, const PredictInputs&, const TaskOutput* dependency) override {
    const auto* detected = dependency != nullptr ? std::get_if<DetectedFaces>(dependency) : nullptr;
    if (detected == nullptr) return internal_error("no detection output");
    RecognizedFaces faces;
    for (std::size_t i = 0; i < detected->boxes.size(); ++i)
      faces.faces.push_back({detected->boxes[i], {0.5F}, detected->scores[i]});
    return faces;
  }
};

class FakeText : public TaskHandler {
 public:
  Expected<TaskOutput> run(const Entry&, const PredictInputs& inputs, const TaskOutput*) override {
    return EmbeddingResult{{static_cast<float>(inputs.text->size())}};
  }
};

// 1x1 PNG, RGB, one red pixel.
const std::string kPng(
    "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52"
    "\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90\x77\x53"
    "\xde\x00\x00\x00\x0c\x49\x44\x41\x54\x78\x9c\x63\xf8\xcf\xc0\x00"
    "\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00\x49\x45\x4e"
    "\x44\xae\x42\x60\x82",
    69);

class Predict : public ::testing::Test {
 protected:
  void SetUp() override {
    registry.add(Task::kFacialRecognition, ModelType::kDetection, std::make_shared<FakeDetector>());
    registry.add(Task::kFacialRecognition, ModelType::kRecognition, std::make_shared<FakeRecognizer>());
    registry.add(Task::kClip, ModelType::kTextual, std::make_shared<FakeText>());
  }
  Reply call(std::optional<std::string> entries, std::optional<std::string> image,
             std::optional<std::string> text) {
    return predict(PredictForm{std::move(entries), std::move(image), std::move(text)}, registry,
                   PredictLimits{});
  }
  TaskRegistry registry;
};

TEST_F(Predict, TwoPhaseFaces) {
  const auto reply = call(
      R"({"facial-recognition":{"detection":{"modelName":"buffalo_l","options":{"minScore":0.25}},"recognition":{"modelName":"buffalo_l"}}})",
      kPng, std::nullopt);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(
      reply.body,
      R"({"facial-recognition":[{"boundingBox":{"x1":1.0,"y1":2.0,"x2":3.0,"y2":4.0},"embedding":"[0.5]",)"
      R"("score":0.25}],"imageHeight":1,"imageWidth":1})");
}

TEST_F(Predict, TextHasNoImageSize) {
  const auto reply =
      call(R"({"clip":{"textual":{"modelName":"ViT-B-32__openai","options":{}}}})", std::nullopt, "abc");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.body, R"({"clip":"[3.0]"})");
}

TEST_F(Predict, ErrorOrderAndStatuses) {
  EXPECT_EQ(call(std::nullopt, kPng, std::nullopt).status, 422);
  EXPECT_EQ(call("nope", std::nullopt, std::nullopt).status, 422);
  const auto neither =
      call(R"({"clip":{"visual":{"modelName":"ViT-B-32__openai"}}})", std::nullopt, std::nullopt);
  EXPECT_EQ(neither.status, 400);
  EXPECT_EQ(neither.body, R"({"detail":"Either image or text must be provided"})");
  EXPECT_EQ(call(R"({"clip":{"visual":{"modelName":"ViT-B-32__openai"}}})", kPng, std::nullopt).status, 501);
  EXPECT_EQ(call(R"({"clip":{"visual":{"modelName":"ViT-B-32__openai"}}})", "garbage", std::nullopt).status,
            422);
  EXPECT_EQ(call(R"({"clip":{"visual":{"modelName":"ViT-B-32__openai"}}})", "", std::nullopt).status, 422);
  EXPECT_EQ(
      call(R"({"facial-recognition":{"recognition":{"modelName":"buffalo_l"}}})", kPng, std::nullopt).status,
      400);
  // A text model given only an image.
  EXPECT_EQ(call(R"({"clip":{"textual":{"modelName":"ViT-B-32__openai"}}})", kPng, std::nullopt).status, 422);
}

TEST_F(Predict, ImageWinsOverText) {
  const auto reply = call(R"({"clip":{"textual":{"modelName":"ViT-B-32__openai"}}})", kPng, "text too");
  EXPECT_EQ(reply.status, 422);  // textual needs text, but the image took precedence
}

}  // namespace
}  // namespace focal
