// SPDX-License-Identifier: AGPL-3.0-or-later
#include "preprocess/resize.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

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

constexpr std::int32_t kHalf = 1 << (kPrecisionBits - 1);

// The horizontal pass of one source row, the window's columns, 8-bit result: Pillow's loop.
void horizontal_row(const std::uint8_t* in, const Taps& taps, int width, std::uint8_t* out) {
  for (int x = 0; x < width; ++x) {
    const auto xi = static_cast<std::size_t>(x);
    const std::int32_t* k = &taps.weights[xi * static_cast<std::size_t>(taps.ksize)];
    const std::uint8_t* p = in + static_cast<std::size_t>(taps.first[xi]) * 3;
    std::int32_t s0 = kHalf;
    std::int32_t s1 = kHalf;
    std::int32_t s2 = kHalf;
    for (int t = 0; t < taps.count[xi]; ++t, p += 3) {
      s0 += p[0] * k[t];
      s1 += p[1] * k[t];
      s2 += p[2] * k[t];
    }
    out[3 * x] = clip8(s0);
    out[3 * x + 1] = clip8(s1);
    out[3 * x + 2] = clip8(s2);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define FOCAL_RESIZE_AVX2 1
// The same pass with AVX2 (chosen at run time where the CPU has it). The taps are laid out for interleaved RGB:
// per output column one weight per source byte (a pixel's R, G and B share it), zero-padded to blocks of 8
// pixels, so each column is a dot product of 24-byte blocks: 3 x 8 lanes of 32-bit multiply-adds. Integer sums
// are exact in any order (no partial sum exceeds Pillow's own bound), so the bytes equal Pillow's loop's.
constexpr int kBlockPixels = 8;
constexpr int kBlockBytes = 3 * kBlockPixels;

struct RgbTaps {
  int blocks = 0;
  std::vector<std::int32_t> weights;  // blocks * kBlockBytes per column
};

RgbTaps rgb_taps(const Taps& taps) {
  RgbTaps out;
  out.blocks = (taps.ksize + kBlockPixels - 1) / kBlockPixels;
  const auto per_column = static_cast<std::size_t>(out.blocks) * kBlockBytes;
  out.weights.assign(taps.first.size() * per_column, 0);
  for (std::size_t x = 0; x < taps.first.size(); ++x) {
    for (int t = 0; t < taps.count[x]; ++t) {
      const auto w = taps.weights[x * static_cast<std::size_t>(taps.ksize) + static_cast<std::size_t>(t)];
      for (std::size_t c = 0; c < 3; ++c)
        out.weights[x * per_column + 3 * static_cast<std::size_t>(t) + c] = w;
    }
  }
  return out;
}

// `first`: the first source pixel per column (Taps::first). A column's padded blocks may read into the next row
// (multiplied by 0); only where they would pass `image_end` they read a zero-padded copy.
__attribute__((target("avx2"))) void horizontal_row_avx2(const std::uint8_t* in,
                                                         const std::uint8_t* image_end,
                                                         const std::vector<int>& first, const RgbTaps& taps,
                                                         int width, std::uint8_t* out) {
  const auto per_column = static_cast<std::size_t>(taps.blocks) * kBlockBytes;
  std::vector<std::uint8_t> padded;  // allocated for the image's last row only
  for (int x = 0; x < width; ++x) {
    const auto xi = static_cast<std::size_t>(x);
    const std::uint8_t* p = in + static_cast<std::size_t>(first[xi]) * 3;
    if (p + per_column > image_end) {
      padded.assign(per_column, 0);
      std::copy(p, image_end, padded.begin());
      p = padded.data();
    }
    const std::int32_t* k = &taps.weights[xi * per_column];
    __m256i a0 = _mm256_setzero_si256();
    __m256i a1 = _mm256_setzero_si256();
    __m256i a2 = _mm256_setzero_si256();
    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): the intrinsics' unaligned load types
    for (int b = 0; b < taps.blocks; ++b, p += kBlockBytes, k += kBlockBytes) {
      const __m256i p0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
      const __m256i p1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8)));
      const __m256i p2 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 16)));
      a0 = _mm256_add_epi32(a0,
                            _mm256_mullo_epi32(p0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k))));
      a1 = _mm256_add_epi32(
          a1, _mm256_mullo_epi32(p1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + 8))));
      a2 = _mm256_add_epi32(
          a2, _mm256_mullo_epi32(p2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + 16))));
    }
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    alignas(32) std::int32_t acc[kBlockBytes];
    _mm256_store_si256(reinterpret_cast<__m256i*>(acc), a0);       // NOLINT(*-reinterpret-cast)
    _mm256_store_si256(reinterpret_cast<__m256i*>(acc + 8), a1);   // NOLINT(*-reinterpret-cast)
    _mm256_store_si256(reinterpret_cast<__m256i*>(acc + 16), a2);  // NOLINT(*-reinterpret-cast)
    std::int32_t s0 = kHalf;
    std::int32_t s1 = kHalf;
    std::int32_t s2 = kHalf;
    for (int i = 0; i < kBlockBytes; i += 3) {
      s0 += acc[i];
      s1 += acc[i + 1];
      s2 += acc[i + 2];
    }
    out[3 * x] = clip8(s0);
    out[3 * x + 1] = clip8(s1);
    out[3 * x + 2] = clip8(s2);
  }
}
#endif

}  // namespace

std::vector<std::uint8_t> resize_window(const RgbView& source, const ResizeWindow& w, ResampleFilter filter,
                                        ResizeKernel kernel) {
  if (w.left < 0 || w.top < 0 || w.width <= 0 || w.height <= 0 || w.left + w.width > w.out_width ||
      w.top + w.height > w.out_height || source.width <= 0 || source.height <= 0) {
    throw std::invalid_argument("resize_window: window outside the output image");
  }
  const bool need_horizontal = w.out_width != source.width;
  const bool need_vertical = w.out_height != source.height;
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
    auto row = [&](int y) { return source.pixels + static_cast<std::size_t>(row_begin + y) * src_stride; };
    auto out_row = [&](int y) { return &tmp[static_cast<std::size_t>(y) * tmp_stride]; };
#ifndef FOCAL_RESIZE_AVX2
    (void)kernel;
#else
    if (kernel == ResizeKernel::kAuto && __builtin_cpu_supports("avx2")) {
      const auto taps = rgb_taps(htaps);
      const std::uint8_t* image_end = source.pixels + static_cast<std::size_t>(source.height) * src_stride;
      for (int y = 0; y < rows; ++y)
        horizontal_row_avx2(row(y), image_end, htaps.first, taps, w.width, out_row(y));
    } else
#endif
    {
      for (int y = 0; y < rows; ++y) horizontal_row(row(y), htaps, w.width, out_row(y));
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
