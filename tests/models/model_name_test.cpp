// SPDX-License-Identifier: AGPL-3.0-or-later
#include "models/model_name.h"

#include <gtest/gtest.h>

#include <cctype>
#include <ostream>

#include "models/model_cache.h"

namespace focal {
namespace {

TEST(ModelName, CleanNameFollowsImmich) {
  EXPECT_EQ(clean_model_name("M-CLIP/XLM-Roberta-Large-Vit-B-32"), "XLM-Roberta-Large-Vit-B-32");
  EXPECT_EQ(clean_model_name("ViT-B-32::openai"), "ViT-B-32__openai");
  EXPECT_EQ(clean_model_name("immich-app/ViT-B-16-plus-240__laion400m_e32"),
            "ViT-B-16-plus-240__laion400m_e32");
  EXPECT_EQ(clean_model_name("nllb-clip-base-siglip__v1"), "nllb-clip-base-siglip__v1");
  EXPECT_EQ(clean_model_name("a.b.c"), "abc");
  EXPECT_EQ(clean_model_name("x\\y"), "x_y");
}

TEST(ModelName, SourceInImmichOrder) {
  EXPECT_EQ(model_source("buffalo_l"), ModelSource::kInsightFace);
  EXPECT_EQ(model_source("antelopev2"), ModelSource::kInsightFace);
  EXPECT_EQ(model_source("XLM-Roberta-Large-Vit-B-32"), ModelSource::kMClip);
  EXPECT_EQ(model_source("LABSE-Vit-L-14"), ModelSource::kMClip);
  EXPECT_EQ(model_source("ViT-B-32__openai"), ModelSource::kOpenClip);
  EXPECT_EQ(model_source("ViT-gopt-16-SigLIP2-384__webli"), ModelSource::kOpenClip);
  EXPECT_EQ(model_source("nllb-clip-large-siglip__mrl"), ModelSource::kOpenClip);
  EXPECT_EQ(model_source("LATIN__PP-OCRv5_mobile"), ModelSource::kPaddle);
  EXPECT_EQ(model_source("ViT-B-32"), std::nullopt);
  EXPECT_EQ(model_source(""), std::nullopt);
}

TEST(ModelName, TaskAndTypeStrings) {
  EXPECT_EQ(parse_task("facial-recognition"), Task::kFacialRecognition);
  EXPECT_EQ(parse_task("facial_recognition"), std::nullopt);
  EXPECT_EQ(parse_model_type("textual"), ModelType::kTextual);
  EXPECT_EQ(parse_model_type("pipeline"),
            std::nullopt);  // declared by the server's enum, refused by the service
  EXPECT_EQ(to_string(Task::kOcr), "ocr");
  EXPECT_EQ(to_string(ModelType::kRecognition), "recognition");
}

struct NameCase {
  const char* name;
  bool valid;
};

void PrintTo(const NameCase& c, std::ostream* os) {
  *os << (c.valid ? "valid:" : "invalid:");
  for (const char* p = c.name; *p != 0; ++p)
    *os << (std::isprint(static_cast<unsigned char>(*p)) != 0 ? *p : '?');
}

class ValidateName : public ::testing::TestWithParam<NameCase> {};

TEST_P(ValidateName, AcceptsOnlySafeKnownNames) {
  const auto& c = GetParam();
  const auto result = validate_model_name(c.name);
  EXPECT_EQ(result.ok(), c.valid) << c.name << ": " << (result.ok() ? *result : result.error().message);
  if (!result.ok()) {
    EXPECT_EQ(http_status(result.error().kind), 422);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Names, ValidateName,
    ::testing::Values(NameCase{"ViT-B-32__openai", true}, NameCase{"immich-app/ViT-B-32__openai", true},
                      NameCase{"ViT-B-32::openai", true}, NameCase{"M-CLIP/XLM-Roberta-Large-Vit-B-32", true},
                      NameCase{"buffalo_l", true}, NameCase{"", false}, NameCase{"..", false},
                      NameCase{"../../etc/passwd", false}, NameCase{"/etc/passwd", false},
                      NameCase{"a/b/c", false}, NameCase{"immich-app/../buffalo_l", false},
                      NameCase{"buffalo_l/..", false}, NameCase{"foo\\bar", false},
                      NameCase{"\\\\server\\x", false}, NameCase{"buffalo_l\n", false},
                      NameCase{"buf\x01"
                               "falo_l",
                               false},
                      NameCase{"./buffalo_l", false}, NameCase{"unknown-model", false},
                      NameCase{"buffalo_l ", false}, NameCase{"buffalo_l%2F", false}));

TEST(ModelName, AllowAnyStillEnforcesSafety) {
  EXPECT_TRUE(validate_model_name("my-own-model", true).ok());
  EXPECT_FALSE(validate_model_name("../my-own-model", true).ok());
  EXPECT_FALSE(validate_model_name(std::string(300, 'a'), true).ok());
}

TEST(ModelCache, ImmichLayout) {
  const auto loc = locate_model("/cache", Task::kFacialRecognition, ModelType::kDetection, "buffalo_l");
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->cache_dir, "/cache/facial-recognition/buffalo_l");
  EXPECT_EQ(loc->model_dir, "/cache/facial-recognition/buffalo_l/detection");
  EXPECT_EQ(loc->model_file, "/cache/facial-recognition/buffalo_l/detection/model.onnx");
  EXPECT_EQ(locate_model("/cache/", Task::kClip, ModelType::kVisual, "ViT-B-32__openai")->model_file,
            "/cache/clip/ViT-B-32__openai/visual/model.onnx");
}

TEST(ModelCache, RefusesPathsOutsideTheCache) {
  EXPECT_FALSE(locate_model("/cache", Task::kClip, ModelType::kVisual, "..").ok());
  EXPECT_FALSE(locate_model("/cache", Task::kClip, ModelType::kVisual, "../x").ok());
  EXPECT_FALSE(locate_model("/cache", Task::kClip, ModelType::kVisual, "a/b").ok());
  EXPECT_FALSE(locate_model("/cache", Task::kClip, ModelType::kVisual, "").ok());
}

TEST(ModelCache, OcrDetectorsAreSharedByEveryLanguageOfOneSize) {
  EXPECT_EQ(locate_model("/cache", Task::kOcr, ModelType::kDetection, "EN__PP-OCRv5_mobile")->model_file,
            "/cache/ocr/PP-OCRv5_mobile/detection/model.onnx");
  EXPECT_EQ(locate_model("/cache", Task::kOcr, ModelType::kRecognition, "EN__PP-OCRv5_mobile")->model_file,
            "/cache/ocr/EN__PP-OCRv5_mobile/recognition/model.onnx");
  EXPECT_EQ(locate_model("/cache", Task::kOcr, ModelType::kDetection, "PP-OCRv5_server")->model_file,
            "/cache/ocr/PP-OCRv5_server/detection/model.onnx");
  EXPECT_FALSE(locate_model("/cache", Task::kOcr, ModelType::kDetection, "EN__..").ok());
}

}  // namespace
}  // namespace focal
