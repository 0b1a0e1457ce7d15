// SPDX-License-Identifier: AGPL-3.0-or-later
// The SIMD horizontal pass of the Pillow-exact resize gives the scalar pass's bytes (the fidelity suites compare
// the result with Pillow itself): sizes around the 8-pixel block, huge downscales whose taps overrun a row,
// upscales, every filter, windows at the image's edges.
#include "preprocess/resize.h"

#include <gtest/gtest.h>

#include <random>

namespace focal {
namespace {

std::vector<std::uint8_t> noise(int width, int height, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3);
  for (auto& p : pixels) p = static_cast<std::uint8_t>(rng() & 0xFF);
  return pixels;
}

struct Case {
  int width, height, out_width, out_height;
};

TEST(PillowResize, SimdAndScalarPassesGiveTheSameBytes) {
  const Case cases[] = {{1, 1, 224, 224},       {7, 5, 3, 2},       {8, 8, 224, 224},
                        {9, 3, 4, 1},           {17, 29, 224, 224}, {333, 777, 224, 517},
                        {1441, 1080, 299, 224}, {10000, 1, 224, 1}, {1, 10000, 1, 224},
                        {4000, 30, 50, 7},      {50, 40, 500, 400}, {2160, 1440, 336, 224}};
  unsigned seed = 1;
  for (const auto& c : cases) {
    const auto pixels = noise(c.width, c.height, seed++);
    const RgbView view{pixels.data(), c.width, c.height};
    for (const auto filter :
         {ResampleFilter::kBilinear, ResampleFilter::kBicubic, ResampleFilter::kLanczos}) {
      // The whole output, and a window touching its right and bottom edges (the rows whose taps end the image).
      const int left = c.out_width / 3;
      const int top = c.out_height / 3;
      for (const ResizeWindow window :
           {ResizeWindow{c.out_width, c.out_height, 0, 0, c.out_width, c.out_height},
            ResizeWindow{c.out_width, c.out_height, left, top, c.out_width - left, c.out_height - top}}) {
        EXPECT_EQ(resize_window(view, window, filter, ResizeKernel::kAuto),
                  resize_window(view, window, filter, ResizeKernel::kScalar))
            << c.width << "x" << c.height << " -> " << c.out_width << "x" << c.out_height << " filter "
            << static_cast<int>(filter) << " window at " << window.left << "," << window.top;
      }
    }
  }
}

}  // namespace
}  // namespace focal
