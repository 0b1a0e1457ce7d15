// SPDX-License-Identifier: AGPL-3.0-or-later
#include <gtest/gtest.h>

#include <ostream>

#include "ml_server/request.h"

namespace focal {
namespace {

Expected<std::vector<Entry>> parse(const std::string& text) { return parse_entries(text, EntriesLimits{}); }

TEST(Entries, ParsesWhatImmichSends) {
  auto clip = parse(R"({"clip":{"visual":{"modelName":"ViT-B-32__openai"}}})");
  ASSERT_TRUE(clip.ok());
  ASSERT_EQ(clip->size(), 1U);
  EXPECT_EQ((*clip)[0].task, Task::kClip);
  EXPECT_EQ((*clip)[0].type, ModelType::kVisual);
  EXPECT_EQ((*clip)[0].source, ModelSource::kOpenClip);

  auto text = parse(R"({"clip":{"textual":{"modelName":"ViT-B-32__openai","options":{"language":"de"}}}})");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ((*text)[0].options.language, "de");

  auto faces = parse(
      R"({"facial-recognition":{"detection":{"modelName":"buffalo_l","options":{"minScore":0.7}},"recognition":{"modelName":"buffalo_l"}}})");
  ASSERT_TRUE(faces.ok());
  ASSERT_EQ(faces->size(), 2U);
  EXPECT_FLOAT_EQ(*(*faces)[0].options.min_score, 0.7F);
  EXPECT_FALSE((*faces)[0].has_dependency());
  EXPECT_TRUE((*faces)[1].has_dependency());
  EXPECT_TRUE(check_dependencies(*faces).ok());

  auto ocr = parse(
      R"({"ocr":{"detection":{"modelName":"PP-OCRv5_mobile","options":{"minScore":0.5,"maxResolution":736}},"recognition":{"modelName":"PP-OCRv5_mobile","options":{"minScore":0.8}}}})");
  ASSERT_TRUE(ocr.ok());
  EXPECT_EQ((*ocr)[0].options.max_resolution, 736);
}

TEST(Entries, MclipAndCleanNames) {
  auto e = parse(R"({"clip":{"textual":{"modelName":"M-CLIP/XLM-Roberta-Large-Vit-B-32"}}})");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)[0].source, ModelSource::kMClip);
  EXPECT_EQ((*e)[0].clean_name, "XLM-Roberta-Large-Vit-B-32");
  EXPECT_EQ((*e)[0].model_name, "M-CLIP/XLM-Roberta-Large-Vit-B-32");
}

struct BadCase {
  const char* json;
  const char* detail_contains;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.detail_contains; }

class BadEntries : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadEntries, Answer422WithAClearMessage) {
  const auto result = parse(GetParam().json);
  ASSERT_FALSE(result.ok()) << GetParam().json;
  EXPECT_EQ(http_status(result.error().kind), 422);
  EXPECT_NE(result.error().message.find(GetParam().detail_contains), std::string::npos)
      << result.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Immich422, BadEntries,
    ::testing::Values(BadCase{"not json", "Invalid request format."},
                      BadCase{"[]", "Invalid request format."},
                      BadCase{"\"clip\"", "Invalid request format."},
                      BadCase{R"({"clip":[]})", "Invalid request format."},
                      BadCase{R"({"clip":{"visual":{}}})", "Invalid request format."},
                      BadCase{R"({"clip":{"visual":{"options":{}}}})", "Invalid request format."},
                      BadCase{"", "Invalid request format."}, BadCase{"{", "Invalid request format."}));

INSTANTIATE_TEST_SUITE_P(
    Immich500Become422, BadEntries,
    ::testing::Values(
        BadCase{R"({"clip":{"visual":"ViT-B-32__openai"}})", "must be an object"},
        BadCase{R"({"video":{"visual":{"modelName":"ViT-B-32__openai"}}})", "Unknown task"},
        BadCase{R"({"clip":{"pipeline":{"modelName":"ViT-B-32__openai"}}})", "Unknown type"},
        BadCase{R"({"clip":{"detection":{"modelName":"ViT-B-32__openai"}}})", "Unknown type"},
        BadCase{R"({"clip":{"visual":{"modelName":"nope"}}})", "Unknown model name"},
        BadCase{R"({"clip":{"visual":{"modelName":"buffalo_l"}}})", "cannot serve task"},
        BadCase{R"({"facial-recognition":{"detection":{"modelName":"ViT-B-32__openai"}}})",
                "cannot serve task"},
        BadCase{R"({"clip":{"visual":{"modelName":42}}})", "must be a string"},
        BadCase{R"({"clip":{"visual":{"modelName":"../../etc/passwd"}}})", "Invalid model name"},
        BadCase{R"({"clip":{"visual":{"modelName":"ViT-B-32__openai","options":[]}}})", "must be an object"},
        BadCase{
            R"({"facial-recognition":{"detection":{"modelName":"buffalo_l","options":{"minScore":"0.5"}}}})",
            "minScore"},
        BadCase{
            R"({"facial-recognition":{"detection":{"modelName":"buffalo_l","options":{"minScore":1.5}}}})",
            "[0, 1]"},
        BadCase{R"({"ocr":{"detection":{"modelName":"PP-OCRv5_mobile","options":{"maxResolution":0.5}}}})",
                "maxResolution"},
        BadCase{R"({"ocr":{"detection":{"modelName":"PP-OCRv5_mobile","options":{"scoreMode":"x"}}}})",
                "scoreMode"},
        BadCase{R"({"clip":{"textual":{"modelName":"ViT-B-32__openai","options":{"language":1}}}})",
                "language"},
        BadCase{"{}", "names no task"}));

TEST(Entries, DepthLimit) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += R"({"a":)";
  deep += "1";
  for (int i = 0; i < 100; ++i) deep += "}";
  const auto result = parse_entries(deep, EntriesLimits{8, false});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("deeper"), std::string::npos);
}

TEST(Entries, MissingDependencyIsImmichs400) {
  auto e = parse(R"({"facial-recognition":{"recognition":{"modelName":"buffalo_l"}}})");
  ASSERT_TRUE(e.ok());
  const auto st = check_dependencies(*e);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(http_status(st.error().kind), 400);
  EXPECT_EQ(
      st.error().message,
      "Task facial-recognition of type recognition depends on output of (<ModelType.DETECTION: 'detection'>, "
      "<ModelTask.FACIAL_RECOGNITION: 'facial-recognition'>)");
}

}  // namespace
}  // namespace focal
