// SPDX-License-Identifier: AGPL-3.0-or-later
// Pillow-exact image resampling (the reference pipelines resize with Pillow: CLIP bicubic/bilinear, OCR detection Lanczos): separable
// convolution, coefficients in double normalised to 22-bit fixed point, 8-bit intermediate between the
// passes, Pillow's rounding and clamping. Output pixels are bit-identical to Pillow's Image.resize for 8-bit
// RGB.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace focal {

enum class ResampleFilter { kBilinear, kBicubic, kLanczos };

struct RgbView {
  const std::uint8_t* pixels = nullptr;  // interleaved RGB
  int width = 0;
  int height = 0;
};

// A window of the resized image: rows [top, top + height) and columns [left, left + width) of the image that
// Pillow would produce at out_width x out_height. Only the window is computed, so resize-then-crop costs the
// crop's size, not the (possibly enormous) resized image's.
struct ResizeWindow {
  int out_width = 0;
  int out_height = 0;
  int left = 0;
  int top = 0;
  int width = 0;
  int height = 0;
};

// kAuto: the SIMD horizontal pass where the CPU has it (AVX2 on x86-64), else the scalar one; kScalar forces
// the scalar pass (the tests compare the two). Both give the same bytes.
enum class ResizeKernel { kAuto, kScalar };

// Returns width * height * 3 bytes. The window must lie inside the output size.
std::vector<std::uint8_t> resize_window(const RgbView& source, const ResizeWindow& window,
                                        ResampleFilter filter, ResizeKernel kernel = ResizeKernel::kAuto);

}  // namespace focal
