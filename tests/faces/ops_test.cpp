// SPDX-License-Identifier: AGPL-3.0-or-later
// Face pipeline numerics (src/faces/ops.h): OpenCV-exact resize and warp on hand-checked cases (the expected
// bytes come from opencv-python 4.11; the fidelity suite compares thousands more), SCRFD decoding of every
// layout, NMS conventions, rounding and the similarity transform.
#include "faces/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

namespace focal::faces {
namespace {

std::vector<std::uint8_t> bytes(std::initializer_list<int> values) {
  std::vector<std::uint8_t> out;
  for (const int v : values) out.push_back(static_cast<std::uint8_t>(v));
  return out;
}

RgbImage gray_rgb(int w, int h, const std::vector<std::uint8_t>& gray) {
  RgbImage img{w, h, {}};
  for (const auto v : gray) img.pixels.insert(img.pixels.end(), {v, v, v});
  return img;
}

TEST(FaceResize, MatchesOpenCvOnSmallCases) {
  const auto src = bytes({0, 37, 74, 111, 148, 91, 128, 165, 202, 239, 182, 219, 0, 37, 74});
  EXPECT_EQ(resize_linear(src, 5, 3, 1, 7, 4),
            bytes({0,   21,  47,  74,  100, 127, 148, 57,  78,  104, 131, 157, 184, 205,
                   125, 146, 145, 103, 129, 156, 177, 182, 203, 156, 0,   26,  53,  74}));
  EXPECT_EQ(resize_linear(src, 5, 3, 1, 3, 2), bytes({35, 97, 158, 172, 41, 103}));
}

TEST(FaceResize, SameSizeIsIdentityAndHalvingAveragesWithRoundingUp) {
  std::vector<std::uint8_t> img(6 * 4 * 3);
  std::iota(img.begin(), img.end(), std::uint8_t{3});
  EXPECT_EQ(resize_linear(img, 6, 4, 3, 6, 4), img);
  const auto half = resize_linear(img, 6, 4, 3, 3, 2);
  // An exact 2x reduction is the 2x2 mean rounded half up (OpenCV's INTER_AREA shortcut agrees bit for bit).
  for (std::size_t y = 0; y < 2; ++y) {
    for (std::size_t x = 0; x < 3; ++x) {
      for (std::size_t c = 0; c < 3; ++c) {
        auto at = [&](std::size_t yy, std::size_t xx) { return int{img[(yy * 6 + xx) * 3 + c]}; };
        const int sum =
            at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1);
        EXPECT_EQ(half[(y * 3 + x) * 3 + c], (sum + 2) >> 2);
      }
    }
  }
}

TEST(FaceResize, OnePixelSourcesAndTargets) {
  const auto one = bytes({10, 20, 30});
  EXPECT_EQ(resize_linear(one, 1, 1, 3, 3, 2),
            bytes({10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30}));
  const auto row = bytes({0, 0, 0, 255, 255, 255});
  EXPECT_EQ(resize_linear(row, 2, 1, 3, 1, 1).size(), 3U);
}

TEST(FaceLetterbox, GeometryFollowsTheAspectRatio) {
  auto g = letterbox_geometry(1280, 886, 640, 640);
  EXPECT_EQ(g.new_width, 640);
  EXPECT_EQ(g.new_height, 443);
  EXPECT_EQ(g.det_scale, 0.5F);
  g = letterbox_geometry(600, 800, 640, 640);  // portrait: height fills
  EXPECT_EQ(g.new_width, 480);
  EXPECT_EQ(g.new_height, 640);
  EXPECT_FLOAT_EQ(g.det_scale, 0.8F);
  g = letterbox_geometry(20, 10, 640, 640);  // small images are upscaled
  EXPECT_EQ(g.new_width, 640);
  EXPECT_EQ(g.new_height, 320);
  g = letterbox_geometry(512, 384, 512, 384);  // a static non-square graph
  EXPECT_EQ(g.new_width, 512);
  EXPECT_EQ(g.new_height, 384);
  g = letterbox_geometry(100000, 10, 640, 640);  // beyond 640:1 a side would truncate to 0
  EXPECT_EQ(g.new_width, 640);
  EXPECT_EQ(g.new_height, 1);
  EXPECT_FLOAT_EQ(g.det_scale, 0.1F);
}

TEST(FaceLetterbox, TensorIsTopLeftOnBlackNormalised) {
  RgbImage img{2, 1, bytes({255, 0, 128, 255, 0, 128})};
  LetterboxGeometry g;
  const auto t = detector_tensor(img, 8, 8, &g);
  ASSERT_EQ(t.size(), 3U * 64);
  EXPECT_EQ(g.new_width, 8);
  EXPECT_EQ(g.new_height, 4);
  EXPECT_EQ(t[0], 0.99609375F);       // R of (0, 0): (255 - 127.5) / 128
  EXPECT_EQ(t[64], -0.99609375F);     // G of (0, 0): 0
  EXPECT_EQ(t[128], 0.00390625F);     // B of (0, 0): 128
  EXPECT_EQ(t[4 * 8], -0.99609375F);  // row 4 is padding (black)
  EXPECT_EQ(t[63 + 128], -0.99609375F);
}

// ---- SCRFD decoding ----

struct FakeOutputs {
  std::vector<std::vector<float>> tensors;
  std::vector<std::span<const float>> views() const {
    std::vector<std::span<const float>> v;
    for (const auto& t : tensors) v.emplace_back(t);
    return v;
  }
};

// Zero-score outputs for `layout` on a w x h input.
FakeOutputs empty_outputs(const ScrfdLayout& layout, int w, int h) {
  FakeOutputs out;
  const std::size_t groups = layout.keypoints ? 3 : 2;
  const std::array<std::size_t, 3> widths{1, 4, 10};
  for (std::size_t g = 0; g < groups; ++g) {
    for (const int s : layout.strides) {
      const auto n = static_cast<std::size_t>((w / s) * (h / s) * layout.anchors);
      out.tensors.emplace_back(n * widths[g], g == 1 ? 1.0F : 0.0F);
    }
  }
  return out;
}

TEST(ScrfdDecode, LayoutsByOutputCount) {
  EXPECT_EQ(scrfd_layout(9)->strides, (std::vector<int>{8, 16, 32}));
  EXPECT_EQ(scrfd_layout(9)->anchors, 2);
  EXPECT_TRUE(scrfd_layout(9)->keypoints);
  EXPECT_FALSE(scrfd_layout(6)->keypoints);
  EXPECT_EQ(scrfd_layout(15)->strides, (std::vector<int>{8, 16, 32, 64, 128}));
  EXPECT_EQ(scrfd_layout(15)->anchors, 1);
  EXPECT_TRUE(scrfd_layout(15)->keypoints);
  EXPECT_FALSE(scrfd_layout(10)->keypoints);
  for (const std::size_t n : {0, 1, 3, 8, 12, 16}) EXPECT_FALSE(scrfd_layout(n).has_value()) << n;
}

TEST(ScrfdDecode, AnchorCentresDistancesAndScale) {
  const auto layout = *scrfd_layout(9);
  auto out = empty_outputs(layout, 64, 64);
  // Stride 16 (level 1): grid 4x4, 2 anchors. Anchor 13 = cell 6 = (x 2, y 1), second anchor.
  out.tensors[1][13] = 0.9F;
  out.tensors[4][13 * 4 + 0] = 0.5F;  // distances in stride units
  out.tensors[4][13 * 4 + 1] = 1.0F;
  out.tensors[4][13 * 4 + 2] = 1.5F;
  out.tensors[4][13 * 4 + 3] = 2.0F;
  for (std::size_t k = 0; k < 10; ++k) out.tensors[7][13 * 10 + k] = 0.25F * static_cast<float>(k);
  const auto views = out.views();
  auto faces = decode_scrfd(layout, views, 64, 64, 0.5F, 0.7F);
  ASSERT_TRUE(faces.ok()) << faces.error().message;
  ASSERT_EQ(faces->boxes.size(), 1U);
  // Centre (32, 16); box (32 - 8, 16 - 16, 32 + 24, 16 + 32) / 0.5.
  EXPECT_EQ(faces->boxes[0].x1, 48.0F);
  EXPECT_EQ(faces->boxes[0].y1, 0.0F);
  EXPECT_EQ(faces->boxes[0].x2, 112.0F);
  EXPECT_EQ(faces->boxes[0].y2, 96.0F);
  EXPECT_EQ(faces->scores[0], 0.9F);
  ASSERT_EQ(faces->landmarks.size(), 1U);
  for (std::size_t p = 0; p < 5; ++p) {
    EXPECT_EQ(faces->landmarks[0][2 * p], (32.0F + 0.25F * static_cast<float>(2 * p) * 16.0F) / 0.5F);
    EXPECT_EQ(faces->landmarks[0][2 * p + 1], (16.0F + 0.25F * static_cast<float>(2 * p + 1) * 16.0F) / 0.5F);
  }
}

TEST(ScrfdDecode, ThresholdIsInclusiveAndPerCall) {
  const auto layout = *scrfd_layout(9);
  auto out = empty_outputs(layout, 64, 64);
  out.tensors[0][0] = 0.7F;
  out.tensors[2][7] = 0.69999F;
  const auto views = out.views();
  EXPECT_EQ(decode_scrfd(layout, views, 64, 64, 1.0F, 0.7F)->boxes.size(), 1U);
  EXPECT_EQ(decode_scrfd(layout, views, 64, 64, 1.0F, 0.6F)->boxes.size(), 2U);
  EXPECT_EQ(decode_scrfd(layout, views, 64, 64, 1.0F, 1.0F)->boxes.size(), 0U);
  // minScore 0 keeps every anchor before NMS; identical boxes then collapse per location.
  EXPECT_GT(decode_scrfd(layout, views, 64, 64, 1.0F, 0.0F)->boxes.size(), 2U);
}

TEST(ScrfdDecode, SortsByScoreSuppressesOverlapsAndRoundsHalfToEvenWithoutClipping) {
  const auto layout = *scrfd_layout(6);  // no keypoints
  auto out = empty_outputs(layout, 64, 64);
  // Two anchors of the same stride-8 cell (identical boxes): only the higher score survives NMS.
  out.tensors[0][0] = 0.8F;
  out.tensors[0][1] = 0.95F;
  // A far-away anchor (cell (7, 7) of stride 8) with a lower score.
  out.tensors[0][2 * 63] = 0.75F;
  for (const std::size_t a : {0, 1}) {
    out.tensors[3][a * 4 + 0] = 0.3125F;  // 2.5 px: rounds to 2 (half to even) after -> -2.5
    out.tensors[3][a * 4 + 1] = 0.0625F;  // 0.5 px: -> -0.5 rounds to -0
    out.tensors[3][a * 4 + 2] = 0.4375F;  // 3.5 px: rounds to 4
    out.tensors[3][a * 4 + 3] = 1.0F;
  }
  const auto views = out.views();
  auto faces = decode_scrfd(layout, views, 64, 64, 1.0F, 0.7F);
  ASSERT_TRUE(faces.ok());
  ASSERT_EQ(faces->boxes.size(), 2U);
  EXPECT_EQ(faces->scores, (std::vector<float>{0.95F, 0.75F}));
  EXPECT_EQ(faces->boxes[0].x1, -2.0F);  // not clipped to the image
  EXPECT_EQ(faces->boxes[0].y1, 0.0F);
  EXPECT_EQ(faces->boxes[0].x2, 4.0F);
  EXPECT_EQ(faces->boxes[0].y2, 8.0F);
  EXPECT_TRUE(faces->landmarks.empty());
}

TEST(ScrfdDecode, FiveStrideLayoutHasOneAnchorPerCell) {
  const auto layout = *scrfd_layout(15);
  auto out = empty_outputs(layout, 256, 128);
  // Stride 64 (level 3): grid 4x2, one anchor. Anchor 5 = (x 1, y 1).
  out.tensors[3][5] = 0.99F;
  const auto views = out.views();
  auto faces = decode_scrfd(layout, views, 256, 128, 1.0F, 0.5F);
  ASSERT_TRUE(faces.ok()) << faces.error().message;
  ASSERT_EQ(faces->boxes.size(), 1U);
  EXPECT_EQ(faces->boxes[0].x1, 0.0F);  // centre 64 - 1.0 * 64
  EXPECT_EQ(faces->boxes[0].y1, 0.0F);
  EXPECT_EQ(faces->boxes[0].x2, 128.0F);
  EXPECT_EQ(faces->boxes[0].y2, 128.0F);
}

TEST(ScrfdDecode, MismatchedOutputsAreErrorsNotCrashes) {
  const auto layout = *scrfd_layout(9);
  auto out = empty_outputs(layout, 64, 64);
  out.tensors[4].pop_back();
  auto views = out.views();
  EXPECT_FALSE(decode_scrfd(layout, views, 64, 64, 1.0F, 0.5F).ok());
  views.resize(5);
  EXPECT_FALSE(decode_scrfd(layout, views, 64, 64, 1.0F, 0.5F).ok());
  const auto fresh = empty_outputs(layout, 64, 64);
  const auto good = fresh.views();
  EXPECT_FALSE(decode_scrfd(layout, good, 640, 640, 1.0F, 0.5F).ok());  // outputs for another input size
}

TEST(FaceNms, UsesThePlusOneAreaConvention) {
  // IoU with "+1": 60 / 140 = 0.43 (suppressed); without it 45 / 117 = 0.38 (kept).
  const std::vector<std::array<float, 4>> boxes{{0, 0, 9, 9}, {4, 0, 13, 9}};
  EXPECT_EQ(nms(boxes, 0.4F), (std::vector<std::size_t>{0}));
}

TEST(FaceNms, KeepsAnIouOfExactlyTheThreshold) {
  const std::vector<std::array<float, 4>> boxes{{0, 0, 9, 9}, {0, 0, 3, 9}, {50, 50, 60, 60}};
  EXPECT_EQ(nms(boxes, 0.4F), (std::vector<std::size_t>{0, 1, 2}));  // 40 / 100 == 0.4
  EXPECT_TRUE(nms({}, 0.4F).empty());
}

TEST(FaceNms, SuppressedBoxesDoNotSuppressOthers) {
  // B overlaps A (suppressed), C overlaps B but not A: C stays.
  const std::vector<std::array<float, 4>> boxes{{0, 0, 9, 9}, {3, 0, 12, 9}, {8, 0, 17, 9}};
  EXPECT_EQ(nms(boxes, 0.4F), (std::vector<std::size_t>{0, 2}));
}

// ---- alignment ----

TEST(FaceAlign, SimilarityRecoversAKnownTransform) {
  const double s = 1.7, th = 0.3, tx = -12.5, ty = 40.25;
  const std::vector<double> src{10, 20, 55, 18, 33, 47, 15, 70, 60, 68};
  std::vector<double> dst;
  for (std::size_t i = 0; i < src.size(); i += 2) {
    dst.push_back(s * (std::cos(th) * src[i] - std::sin(th) * src[i + 1]) + tx);
    dst.push_back(s * (std::sin(th) * src[i] + std::cos(th) * src[i + 1]) + ty);
  }
  const auto m = estimate_similarity(src, dst);
  ASSERT_TRUE(m.has_value());
  const Affine want{s * std::cos(th), -s * std::sin(th), tx, s * std::sin(th), s * std::cos(th), ty};
  for (std::size_t i = 0; i < 6; ++i) EXPECT_NEAR((*m)[i], want[i], 1e-9) << i;
}

TEST(FaceAlign, NeverReflects) {
  // dst is src mirrored: the best proper similarity (det > 0) is returned, as Umeyama's guard does.
  const std::vector<double> src{0, 0, 10, 0, 0, 10, 7, 7};
  const std::vector<double> dst{0, 0, -10, 0, 0, 10, -7, 7};
  const auto m = estimate_similarity(src, dst);
  ASSERT_TRUE(m.has_value());
  EXPECT_GT((*m)[0] * (*m)[4] - (*m)[1] * (*m)[3], 0.0);
}

TEST(FaceAlign, TemplateMapsToIdentityAndDegenerateInputsAreRejected) {
  const auto m = arcface_transform(
      {38.2946F, 51.6963F, 73.5318F, 51.5014F, 56.0252F, 71.7366F, 41.5493F, 92.3655F, 70.7299F, 92.2041F});
  ASSERT_TRUE(m.has_value());
  const Affine identity{1, 0, 0, 0, 1, 0};
  for (std::size_t i = 0; i < 6; ++i) EXPECT_NEAR((*m)[i], identity[i], 1e-9);
  EXPECT_FALSE(arcface_transform({5, 5, 5, 5, 5, 5, 5, 5, 5, 5}).has_value());
  EXPECT_FALSE(arcface_transform({NAN, 5, 5, 5, 5, 5, 5, 5, 5, 5}).has_value());
  const RgbImage img = gray_rgb(2, 2, bytes({200, 200, 200, 200}));
  const auto crop = arcface_crop(img, {5, 5, 5, 5, 5, 5, 5, 5, 5, 5});
  EXPECT_EQ(crop, std::vector<std::uint8_t>(112 * 112 * 3, 0));
}

TEST(FaceWarp, MatchesOpenCvOnASmallCase) {
  const auto img =
      gray_rgb(4, 4, bytes({13, 74, 135, 196, 42, 103, 164, 225, 71, 132, 193, 254, 100, 161, 222, 27}));
  const auto out = warp_affine_linear(img, {0.8, -0.3, 0.7, 0.35, 0.9, -0.4}, 5, 5);
  const auto want = bytes(
      {12, 49, 91, 71, 0, 46, 100, 155, 200, 0, 97, 149, 204, 147, 0, 52, 165, 129, 46, 0, 0, 0, 7, 0, 0});
  ASSERT_EQ(out.size(), 75U);
  for (std::size_t i = 0; i < 25; ++i) EXPECT_EQ(out[3 * i], want[i]) << i;
}

TEST(FaceWarp, IdentityShiftsAndBorders) {
  const auto img = gray_rgb(3, 1, bytes({10, 20, 41}));
  EXPECT_EQ(warp_affine_linear(img, {1, 0, 0, 0, 1, 0}, 3, 1), img.pixels);
  // Shifted right by one pixel: the uncovered column is the constant border (0).
  EXPECT_EQ(warp_affine_linear(img, {1, 0, 1, 0, 1, 0}, 3, 1), gray_rgb(3, 1, bytes({0, 10, 20})).pixels);
  // Half a pixel: 1/32-pixel grid, weights 1/2 each, rounded half up: (a + b + 1) / 2.
  EXPECT_EQ(warp_affine_linear(img, {1, 0, -0.5, 0, 1, 0}, 3, 1), gray_rgb(3, 1, bytes({15, 31, 21})).pixels);
  // A singular matrix samples pixel (0, 0) everywhere, like OpenCV.
  EXPECT_EQ(warp_affine_linear(img, {0, 0, 0, 0, 0, 0}, 2, 1), gray_rgb(2, 1, bytes({10, 10})).pixels);
}

TEST(FaceWarp, FarOutsideIsBlackAndHugeCoordinatesAreSafe) {
  const auto img = gray_rgb(2, 2, bytes({1, 2, 3, 4}));
  EXPECT_EQ(warp_affine_linear(img, {1, 0, 1e6, 0, 1, -1e6}, 4, 4), std::vector<std::uint8_t>(48, 0));
  EXPECT_EQ(warp_affine_linear(img, {1e-12, 0, 0, 0, 1e-12, 0}, 4, 4).size(), 48U);
  EXPECT_EQ(warp_affine_linear(img, {1e300, 0, 0, 0, 1e300, 0}, 4, 4).size(), 48U);
}

}  // namespace
}  // namespace focal::faces
