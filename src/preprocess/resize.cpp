// SPDX-License-Identifier: AGPL-3.0-or-later
#include "preprocess/resize.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace focal {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS for 8-bit images

double bicubic(double x) {
  constexpr double kA = -0.5;  // Pillow's bicubic "a"
  x = std::fabs(x);
  if (x < 1.0) return ((kA + 2.0) * x - (kA + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * kA;
  return 0.0;
}

double bilinear(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= std::numbers::pi;
  return std::sin(x) / x;
}

double lanczos(double x) {  // Pillow's 3-lobe truncated sinc
  return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
}

struct Kernel {
  double support;
  double (*weight)(double);
};

Kernel kernel_of(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::kBicubic:
      return {2.0, bicubic};
    case ResampleFilter::kLanczos:
      return {3.0, lanczos};
    case ResampleFilter::kBilinear:
      break;
  }
  return {1.0, bilinear};
}

// Fixed-point taps for a range of output positions along one axis (Pillow's precompute_coeffs followed by
// normalize_coeffs_8bpc, evaluated only for the positions we need).
struct Taps {
  int ksize = 0;
  std::vector<int> first;             // first input index per output position
  std::vector<int> count;             // number of taps per output position
  std::vector<std::int32_t> weights;  // ksize per output position
};

Taps make_taps(int in_size, int out_size, int out_begin, int out_count, ResampleFilter filter) {
  const auto [filter_support, kernel] = kernel_of(filter);
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = filter_support * filterscale;
  Taps taps;
  taps.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  const auto n = static_cast<std::size_t>(out_count);
  taps.first.resize(n);
  taps.count.resize(n);
  taps.weights.assign(n * static_cast<std::size_t>(taps.ksize), 0);
  std::vector<double> k(static_cast<std::size_t>(taps.ksize));
  for (int i = 0; i < out_count; ++i) {
    const int xx = out_begin + i;
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    // Truncation toward zero, as Pillow's (int) casts: bit-exactness needs exactly this rounding.
    // NOLINTBEGIN(bugprone-incorrect-roundings)
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    // NOLINTEND(bugprone-incorrect-roundings)
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = kernel((x + xmin - center + 0.5) * ss);
      k[static_cast<std::size_t>(x)] = w;
      ww += w;
    }
    auto* out = &taps.weights[static_cast<std::size_t>(i) * static_cast<std::size_t>(taps.ksize)];
    for (int x = 0; x < xmax; ++x) {
      double w = k[static_cast<std::size_t>(x)];
      if (ww != 0.0) w /= ww;
      out[x] = static_cast<std::int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits)
                                               : 0.5 + w * (1 << kPrecisionBits));
    }
    taps.first[static_cast<std::size_t>(i)] = xmin;
    taps.count[static_cast<std::size_t>(i)] = std::max(xmax, 0);
  }
  return taps;
}

inline std::uint8_t clip8(std::int32_t v) {
  return static_cast<std::uint8_t>(std::clamp(v >> kPrecisionBits, 0, 255));  // arithmetic shift, like Pillow
}

}  // namespace

std::vector<std::uint8_t> resize_window(const RgbView& source, const ResizeWindow& w, ResampleFilter filter) {
  if (w.left < 0 || w.top < 0 || w.width <= 0 || w.height <= 0 || w.left + w.width > w.out_width ||
      w.top + w.height > w.out_height || source.width <= 0 || source.height <= 0) {
    throw std::invalid_argument("resize_window: window outside the output image");
  }
  const bool need_horizontal = w.out_width != source.width;
  const bool need_vertical = w.out_height != source.height;
  constexpr std::int32_t kHalf = 1 << (kPrecisionBits - 1);
  const auto src_stride = static_cast<std::size_t>(source.width) * 3;

  // Vertical taps for the window's rows decide which source rows the horizontal pass must produce.
  Taps vtaps;
  int row_begin = w.top;
  int row_end = w.top + w.height;
  if (need_vertical) {
    vtaps = make_taps(source.height, w.out_height, w.top, w.height, filter);
    row_begin = vtaps.first.front();
    row_end = 0;
    for (std::size_t i = 0; i < vtaps.first.size(); ++i)
      row_end = std::max(row_end, vtaps.first[i] + vtaps.count[i]);
  }
  const int rows = row_end - row_begin;

  // Horizontal pass: rows [row_begin, row_end) of the source, only the window's columns, 8-bit result.
  const auto tmp_stride = static_cast<std::size_t>(w.width) * 3;
  std::vector<std::uint8_t> tmp;
  const std::uint8_t* horiz = nullptr;
  std::size_t horiz_stride = 0;
  if (need_horizontal) {
    const auto htaps = make_taps(source.width, w.out_width, w.left, w.width, filter);
    tmp.resize(static_cast<std::size_t>(rows) * tmp_stride);
    for (int y = 0; y < rows; ++y) {
      const std::uint8_t* in = source.pixels + static_cast<std::size_t>(row_begin + y) * src_stride;
      std::uint8_t* out = &tmp[static_cast<std::size_t>(y) * tmp_stride];
      for (int x = 0; x < w.width; ++x) {
        const std::int32_t* k =
            &htaps.weights[static_cast<std::size_t>(x) * static_cast<std::size_t>(htaps.ksize)];
        const std::uint8_t* p = in + static_cast<std::size_t>(htaps.first[static_cast<std::size_t>(x)]) * 3;
        std::int32_t s0 = kHalf;
        std::int32_t s1 = kHalf;
        std::int32_t s2 = kHalf;
        for (int t = 0; t < htaps.count[static_cast<std::size_t>(x)]; ++t, p += 3) {
          s0 += p[0] * k[t];
          s1 += p[1] * k[t];
          s2 += p[2] * k[t];
        }
        out[3 * x] = clip8(s0);
        out[3 * x + 1] = clip8(s1);
        out[3 * x + 2] = clip8(s2);
      }
    }
    horiz = tmp.data();
    horiz_stride = tmp_stride;
  } else {  // same width: the window's columns straight from the source
    horiz = source.pixels + static_cast<std::size_t>(row_begin) * src_stride +
            static_cast<std::size_t>(w.left) * 3;
    horiz_stride = src_stride;
  }

  std::vector<std::uint8_t> out(static_cast<std::size_t>(w.height) * tmp_stride);
  if (!need_vertical) {
    for (int y = 0; y < w.height; ++y) {
      std::copy_n(horiz + static_cast<std::size_t>(y) * horiz_stride, tmp_stride,
                  &out[static_cast<std::size_t>(y) * tmp_stride]);
    }
    return out;
  }
  // Vertical pass over the 8-bit intermediate; accumulate whole rows so the inner loop is contiguous.
  std::vector<std::int32_t> acc(tmp_stride);
  for (int y = 0; y < w.height; ++y) {
    const auto yi = static_cast<std::size_t>(y);
    const std::int32_t* k = &vtaps.weights[yi * static_cast<std::size_t>(vtaps.ksize)];
    std::fill(acc.begin(), acc.end(), kHalf);
    for (int t = 0; t < vtaps.count[yi]; ++t) {
      const std::uint8_t* in =
          horiz + static_cast<std::size_t>(vtaps.first[yi] - row_begin + t) * horiz_stride;
      const std::int32_t kt = k[t];
      for (std::size_t i = 0; i < tmp_stride; ++i) acc[i] += in[i] * kt;
    }
    std::uint8_t* dst = &out[yi * tmp_stride];
    for (std::size_t i = 0; i < tmp_stride; ++i) dst[i] = clip8(acc[i]);
  }
  return out;
}

}  // namespace focal
