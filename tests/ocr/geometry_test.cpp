// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ocr/geometry.h"

#include <gtest/gtest.h>

#include "ocr/text_recognizer.h"

namespace focal {
namespace {

TextQuad rect(float x, float y, float w, float h) { return {x, y, x + w, y, x + w, y + h, x, y + h}; }

TEST(OcrReadingOrder, RowsTenPixelsApartThenLeftToRight) {
  // Already in y order: rows y 20/25 (one row, read left to right) and y 100.
  const std::vector<TextQuad> boxes{rect(300, 20, 50, 20), rect(10, 25, 50, 20), rect(50, 100, 50, 20)};
  EXPECT_EQ(ocr::reading_order(boxes), (std::vector<std::size_t>{1, 0, 2}));
}

TEST(OcrReadingOrder, KeepsUpstreamsPermutedRowIds) {
  // y order 1 (y 0), 2 (y 50), 0 (y 100) gives row ids 0, 1, 2 by sorted position; upstream looks them up through
  // the permutation (the row id of position order[j]), so the keys are 1e6 + 7, 2e6 + 9 and 0 + 5 and the boxes
  // come back in their original order rather than top to bottom (the reference pipeline gives the same).
  const std::vector<TextQuad> boxes{rect(5, 100, 20, 20), rect(7, 0, 20, 20), rect(9, 50, 20, 20)};
  EXPECT_EQ(ocr::reading_order(boxes), (std::vector<std::size_t>{0, 1, 2}));
}

TEST(OcrLineConfidence, RoundsEachStepThenTheMean) {
  EXPECT_EQ(ocr::line_confidence({}), 0.0);
  const std::vector<float> one{0.123456F};
  EXPECT_DOUBLE_EQ(ocr::line_confidence(one), 0.12346);
  const std::vector<float> steps{0.999994F, 0.5F, 0.25F};
  EXPECT_DOUBLE_EQ(ocr::line_confidence(steps), 0.58333);  // (0.99999 + 0.5 + 0.25) / 3
  const std::vector<float> many(300, 0.9F);                // the pairwise branch
  EXPECT_DOUBLE_EQ(ocr::line_confidence(many), 0.9);
}

TEST(OcrCharacters, SplitLikePythonSplitlines) {
  EXPECT_EQ(split_character_lines("a\nb\r\nc\rd"), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(split_character_lines("a\n\nb\n"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split_character_lines("x\xe2\x80\xa8y\x0bz"), (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(split_character_lines("\xe4\xb8\xad\n\xe6\x96\x87"),
            (std::vector<std::string>{"\xe4\xb8\xad", "\xe6\x96\x87"}));
  EXPECT_TRUE(split_character_lines("").empty());
}

TEST(OcrDbBoxes, FindsARectangleOfText) {
  // A 64x32 map with one bright 30x8 block: one box, scaled 2x to a 128x64 image, grown by the unclip offset.
  std::vector<float> map(64 * 32, 0.0F);
  for (int y = 10; y < 18; ++y)
    for (int x = 10; x < 40; ++x) map[static_cast<std::size_t>(y) * 64 + x] = 0.9F;
  const auto found = ocr::db_boxes(map, 64, 32, 128, 64, {});
  ASSERT_EQ(found.boxes.size(), 1U);
  EXPECT_GT(found.scores[0], 0.5);  // the rectangle's border pixels (probability 0) count too
  EXPECT_LT(found.scores[0], 0.9);
  const auto& b = found.boxes[0];
  EXPECT_LT(b[0], 20);  // grown beyond the block's 2x-scaled left edge (20)
  EXPECT_GT(b[2], 78);  // and right edge (2 * 39)
  EXPECT_TRUE(ocr::db_boxes(map, 64, 32, 128, 64, {.box_threshold = 0.89F}).boxes.empty());
  EXPECT_TRUE(ocr::db_boxes({}, 0, 0, 128, 64, {}).boxes.empty());
}

TEST(OcrCrop, AxisAlignedBoxIsACopyAndTallBoxesAreRotated) {
  std::vector<std::uint8_t> rgb(8 * 6 * 3);
  for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<std::uint8_t>(i);
  const auto crop = ocr::perspective_crop(rgb.data(), 8, 6, rect(1, 1, 4, 2));
  ASSERT_EQ(crop.width, 4);
  ASSERT_EQ(crop.height, 2);
  EXPECT_EQ(crop.pixels[0], rgb[(1 * 8 + 1) * 3]);
  const auto tall = ocr::perspective_crop(rgb.data(), 8, 6, rect(1, 0, 2, 5));
  EXPECT_EQ(tall.width, 5);
  EXPECT_EQ(tall.height, 2);
  EXPECT_TRUE(ocr::perspective_crop(rgb.data(), 8, 6, rect(1, 1, 0, 0)).pixels.empty());
}

}  // namespace
}  // namespace focal
