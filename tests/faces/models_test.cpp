// SPDX-License-Identifier: AGPL-3.0-or-later
// FaceDetector, FaceRecognizer and the task handlers on the generated face packs (tools/gen_test_models.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "faces/detector.h"
#include "faces/handlers.h"
#include "faces/recognizer.h"
#include "tasks/entry.h"

namespace focal {
namespace {

const std::filesystem::path kModels = FOCAL_TEST_MODELS;
const std::filesystem::path kPack = kModels / "facial-recognition/buffalo_l";
const std::filesystem::path kPhotos = std::filesystem::path(FOCAL_TESTDATA) / "photos";

OrtRuntime& runtime() {
  static OrtRuntime rt;
  return rt;
}

RgbImage load_photo(const std::string& name) {
  std::ifstream in(kPhotos / name, std::ios::binary);
  const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto image = decode_rgb(bytes, DecodeLimits{});
  EXPECT_TRUE(image.ok());
  return image.ok() ? std::move(*image) : RgbImage{};
}

// What the predict pipeline parses from {"facial-recognition": {<type>: {"modelName": <name>}}}.
Entry face_entry(ModelType type, const std::string& name, EntryOptions options = {}) {
  return {Task::kFacialRecognition, type, name, name, ModelSource::kInsightFace, std::move(options)};
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += double{a[i]} * b[i];
    aa += double{a[i]} * a[i];
    bb += double{b[i]} * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

TEST(FaceDetector, LoadsTheGeneratedPackAndFindsFacesInDescendingOrder) {
  auto detector = FaceDetector::load(runtime(), kPack / "detection/model.onnx", SessionConfig{});
  ASSERT_TRUE(detector.ok()) << detector.error().message;
  EXPECT_EQ((*detector)->input_width(), 640);
  EXPECT_EQ((*detector)->input_height(), 640);
  EXPECT_TRUE((*detector)->layout().keypoints);
  const auto photo = load_photo("group-friends-cast.jpg");
  FaceDetectTimings timings;
  auto faces = (*detector)->detect(photo, 0.5F, &timings);
  ASSERT_TRUE(faces.ok()) << faces.error().message;
  ASSERT_FALSE(faces->boxes.empty());
  EXPECT_EQ(faces->scores.size(), faces->boxes.size());
  EXPECT_EQ(faces->landmarks.size(), faces->boxes.size());
  for (std::size_t i = 0; i < faces->boxes.size(); ++i) {
    EXPECT_GE(faces->scores[i], 0.5F);
    if (i > 0) {
      EXPECT_GE(faces->scores[i - 1], faces->scores[i]);
    }
    const auto& b = faces->boxes[i];
    for (const float v : {b.x1, b.y1, b.x2, b.y2}) EXPECT_EQ(v, std::nearbyint(v));
  }
  EXPECT_GT(timings.run_ms, 0.0);
  // A higher threshold keeps a subset.
  auto fewer = (*detector)->detect(photo, 0.7F);
  ASSERT_TRUE(fewer.ok());
  EXPECT_LE(fewer->boxes.size(), faces->boxes.size());
}

TEST(FaceDetector, BlackAndTinyImagesAreFine) {
  auto detector = FaceDetector::load(runtime(), kPack / "detection/model.onnx", SessionConfig{});
  ASSERT_TRUE(detector.ok());
  RgbImage black{600, 800, std::vector<std::uint8_t>(600 * 800 * 3, 0)};
  auto faces = (*detector)->detect(black, 0.7F);
  ASSERT_TRUE(faces.ok());
  EXPECT_TRUE(faces->boxes.empty());
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {3, 2}, {1, 5000}, {5000, 1}}) {
    RgbImage tiny{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w * h * 3), 77)};
    EXPECT_TRUE((*detector)->detect(tiny, 0.0F).ok()) << w << "x" << h;
  }
}

TEST(FaceDetector, RejectsARecognizerGraph) {
  auto detector = FaceDetector::load(runtime(), kPack / "recognition/model.onnx", SessionConfig{});
  ASSERT_FALSE(detector.ok());
  EXPECT_NE(detector.error().message.find("not an SCRFD face detector"), std::string::npos);
}

TEST(FaceRecognizer, LoadsWithBatchSettings) {
  auto recognizer = FaceRecognizer::load(runtime(), kPack / "recognition/model.onnx", SessionConfig{});
  ASSERT_TRUE(recognizer.ok()) << recognizer.error().message;
  EXPECT_FALSE((*recognizer)->mxnet_normalisation());
  EXPECT_FALSE((*recognizer)->static_batch());
  EXPECT_EQ((*recognizer)->faces_per_run(), FaceRecognizer::kMaxFacesPerRun);
  auto limited = FaceRecognizer::load(runtime(), kPack / "recognition/model.onnx", SessionConfig{}, {3});
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ((*limited)->faces_per_run(), 3);
  auto wrong = FaceRecognizer::load(runtime(), kPack / "detection/model.onnx", SessionConfig{});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("not an ArcFace recognizer"), std::string::npos);
}

TEST(FaceRecognizer, BatchedAndChunkedRunsAgree) {
  auto detector = FaceDetector::load(runtime(), kPack / "detection/model.onnx", SessionConfig{});
  auto all = FaceRecognizer::load(runtime(), kPack / "recognition/model.onnx", SessionConfig{});
  auto chunked = FaceRecognizer::load(runtime(), kPack / "recognition/model.onnx", SessionConfig{}, {2});
  ASSERT_TRUE(detector.ok() && all.ok() && chunked.ok());
  const auto photo = load_photo("group-friends-cast.jpg");
  auto faces = (*detector)->detect(photo, 0.5F);
  ASSERT_TRUE(faces.ok());
  ASSERT_GE(faces->boxes.size(), 3U);
  FaceRecognizeTimings t_all;
  FaceRecognizeTimings t_chunked;
  auto a = (*all)->recognize(photo, *faces, &t_all);
  auto b = (*chunked)->recognize(photo, *faces, &t_chunked);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(t_all.runs, 1);
  EXPECT_EQ(t_chunked.runs, static_cast<int>((faces->boxes.size() + 1) / 2));
  ASSERT_EQ(a->faces.size(), faces->boxes.size());
  for (std::size_t i = 0; i < a->faces.size(); ++i) {
    EXPECT_EQ(a->faces[i].embedding.size(), 512U);
    EXPECT_GT(cosine(a->faces[i].embedding, b->faces[i].embedding), 0.99999);
    EXPECT_EQ(a->faces[i].score, faces->scores[i]);
    EXPECT_EQ(a->faces[i].box.x1, faces->boxes[i].x1);
  }
}

TEST(FaceRecognizer, MoreFacesThanOneRunTakesAreChunked) {
  auto recognizer = FaceRecognizer::load(runtime(), kPack / "recognition/model.onnx", SessionConfig{});
  ASSERT_TRUE(recognizer.ok());
  // 300 distinct crops: two Runs (256 + 44); each embedding as if computed on its own.
  std::vector<std::vector<std::uint8_t>> crops;
  for (std::size_t i = 0; i < 300; ++i) {
    std::vector<std::uint8_t> crop(112 * 112 * 3);
    for (std::size_t k = 0; k < crop.size(); ++k)
      crop[k] = static_cast<std::uint8_t>((k * (i + 3) + i) % 251);
    crops.push_back(std::move(crop));
  }
  FaceRecognizeTimings timings;
  auto all = (*recognizer)->embed(crops, &timings);
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(timings.runs, 2);
  ASSERT_EQ(all->size(), 300U);
  for (const std::size_t i : {std::size_t{0}, std::size_t{255}, std::size_t{256}, std::size_t{299}}) {
    auto one = (*recognizer)->embed({crops[i]});
    ASSERT_TRUE(one.ok());
    EXPECT_GT(cosine((*all)[i], one->front()), 0.99999) << i;
  }
}

TEST(FaceRecognizer, NoFacesMeansNoRunAndMissingLandmarksAreAnError) {
  auto recognizer = FaceRecognizer::load(runtime(), kPack / "recognition/model.onnx", SessionConfig{});
  ASSERT_TRUE(recognizer.ok());
  const RgbImage img{4, 4, std::vector<std::uint8_t>(48, 9)};
  FaceRecognizeTimings timings;
  auto none = (*recognizer)->recognize(img, DetectedFaces{}, &timings);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->faces.empty());
  EXPECT_EQ(timings.runs, 0);
  DetectedFaces no_landmarks;
  no_landmarks.boxes.push_back({0, 0, 2, 2});
  no_landmarks.scores.push_back(0.9F);
  EXPECT_FALSE((*recognizer)->recognize(img, no_landmarks).ok());
}

TEST(FaceHandlers, DetectionThenRecognitionThroughTheRegistry) {
  TaskRegistry registry;
  ModelContext context;
  context.runtime = &runtime();
  context.cache_folder = kModels;
  register_face_handlers(registry, context, FaceOptions{});
  EntryOptions det_options;
  det_options.min_score = 0.5F;
  const Entry det = face_entry(ModelType::kDetection, "buffalo_l", det_options);
  const Entry rec = face_entry(ModelType::kRecognition, "buffalo_l");
  const auto photo = load_photo("group-friends-cast.jpg");
  PredictInputs inputs;
  inputs.image = &photo;
  auto* det_handler = registry.find(Task::kFacialRecognition, ModelType::kDetection);
  auto* rec_handler = registry.find(Task::kFacialRecognition, ModelType::kRecognition);
  ASSERT_TRUE(det_handler != nullptr && rec_handler != nullptr);
  auto detected = det_handler->run(det, inputs, nullptr);
  ASSERT_TRUE(detected.ok()) << detected.error().message;
  const auto& faces = std::get<DetectedFaces>(*detected);
  auto recognized = rec_handler->run(rec, inputs, &*detected);
  ASSERT_TRUE(recognized.ok()) << recognized.error().message;
  EXPECT_EQ(std::get<RecognizedFaces>(*recognized).faces.size(), faces.boxes.size());

  const TaskOutput empty = DetectedFaces{};
  auto none = rec_handler->run(rec, inputs, &empty);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(std::get<RecognizedFaces>(*none).faces.empty());
  EXPECT_FALSE(rec_handler->run(rec, inputs, nullptr).ok());

  auto not_cached = det_handler->run(face_entry(ModelType::kDetection, "antelopev2"), inputs, nullptr);
  ASSERT_FALSE(not_cached.ok());
  EXPECT_EQ(not_cached.error().kind, ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace focal
