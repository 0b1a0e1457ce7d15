// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ml_server/response.h"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>

namespace focal {
namespace {

using nlohmann::json;

TEST(Response, ClipIsJsonInJson) {
  const auto body = render_response({{Task::kClip, EmbeddingResult{{0.5F, -0.25F}}}}, ImageSize{1920, 1440});
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, R"({"clip":"[0.5,-0.25]","imageHeight":1440,"imageWidth":1920})");
  const auto text = render_response({{Task::kClip, EmbeddingResult{{1.0F}}}}, std::nullopt);
  EXPECT_EQ(*text, R"({"clip":"[1.0]"})");
}

TEST(Response, RecognizedFacesShape) {
  RecognizedFaces faces;
  faces.faces.push_back({{690, -89, 833, 96}, {0.1F, 0.2F}, 0.83476543F});
  const auto body = render_response({{Task::kFacialRecognition, faces}}, ImageSize{600, 800});
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, R"({"facial-recognition":[{"boundingBox":{"x1":690.0,"y1":-89.0,"x2":833.0,"y2":96.0},)"
                   R"("embedding":"[0.1,0.2]","score":0.83476543}],"imageHeight":800,"imageWidth":600})");
  const auto parsed = json::parse(*body);
  EXPECT_EQ(json::parse(parsed["facial-recognition"][0]["embedding"].get<std::string>()).size(), 2U);
}

TEST(Response, NoFacesIsAnEmptyList) {
  const auto body = render_response({{Task::kFacialRecognition, RecognizedFaces{}}}, ImageSize{10, 20});
  EXPECT_EQ(*body, R"({"facial-recognition":[],"imageHeight":20,"imageWidth":10})");
}

TEST(Response, RawDetectionNestedArrays) {
  DetectedFaces d;
  d.boxes.push_back({1, 2, 3, 4});
  d.scores.push_back(0.9F);
  d.landmarks.push_back({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  const auto body = render_response({{Task::kFacialRecognition, d}}, ImageSize{5, 6});
  ASSERT_TRUE(body.ok());
  const auto j = json::parse(*body)["facial-recognition"];
  EXPECT_EQ(j["boxes"], json::parse("[[1.0,2.0,3.0,4.0]]"));
  EXPECT_EQ(j["landmarks"][0].size(), 5U);
  EXPECT_EQ(j["landmarks"][0][4], json::parse("[9.0,10.0]"));
}

TEST(Response, LastOutputPerTaskWins) {
  DetectedFaces d;
  const auto body = render_response(
      {{Task::kFacialRecognition, d}, {Task::kFacialRecognition, RecognizedFaces{}}}, ImageSize{1, 1});
  EXPECT_EQ(*body, R"({"facial-recognition":[],"imageHeight":1,"imageWidth":1})");
}

TEST(Response, NeverEmitsNanOrInfinity) {
  const auto nan =
      render_response({{Task::kClip, EmbeddingResult{{std::numeric_limits<float>::quiet_NaN()}}}}, {});
  EXPECT_FALSE(nan.ok());
  RecognizedFaces faces;
  faces.faces.push_back({{0, 0, 1, 1}, {std::numeric_limits<float>::infinity()}, 0.5F});
  EXPECT_FALSE(render_response({{Task::kFacialRecognition, faces}}, {}).ok());
}

TEST(Response, Detail) { EXPECT_EQ(render_detail("a \"b\""), R"({"detail":"a \"b\""})"); }

}  // namespace
}  // namespace focal
