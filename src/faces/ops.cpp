// SPDX-License-Identifier: AGPL-3.0-or-later
#include "faces/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

namespace focal::faces {
namespace {

// OpenCV's cvRound/saturate_cast<int>(double): round half to even (the FPU default), clamped, NaN -> 0 (the
// value is irrelevant there; it only has to be defined behaviour).
int saturate_int(double v) {
  if (std::isnan(v)) return 0;
  if (v >= static_cast<double>(std::numeric_limits<int>::max())) return std::numeric_limits<int>::max();
  if (v <= static_cast<double>(std::numeric_limits<int>::min())) return std::numeric_limits<int>::min();
  return static_cast<int>(std::nearbyint(v));
}

int saturate_short(int v) { return std::clamp(v, -32768, 32767); }

// ---- cv::resize INTER_LINEAR ----

constexpr int kResizeCoefScale = 1 << 11;  // INTER_RESIZE_COEF_BITS

struct ResizeAxis {
  std::vector<int> offset;  // first source index of each output index
  std::vector<int> coef0;   // fixed-point weights of source[offset] and source[offset + 1]
  std::vector<int> coef1;
};

// Per output index: the source position (d + 0.5) * scale - 0.5 in float, its floor and fraction, and the
// weights (1 - f, f) in 11-bit fixed point, rounded half-to-even. Horizontally OpenCV clamps the position to
// the first/last pixel (weight 0 for the outside tap); vertically it keeps the weights and clamps the rows.
ResizeAxis resize_axis(int src, int dst, bool clamp_position) {
  ResizeAxis axis;
  axis.offset.resize(static_cast<std::size_t>(dst));
  axis.coef0.resize(static_cast<std::size_t>(dst));
  axis.coef1.resize(static_cast<std::size_t>(dst));
  const double inv_scale = static_cast<double>(dst) / src;
  const double scale = 1.0 / inv_scale;
  for (int d = 0; d < dst; ++d) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    if (clamp_position) {
      if (s < 0) {
        f = 0;
        s = 0;
      }
      if (s >= src - 1) {
        f = 0;
        s = src - 1;
      }
    }
    const auto i = static_cast<std::size_t>(d);
    axis.offset[i] = s;
    axis.coef0[i] = saturate_short(saturate_int((1.0F - f) * static_cast<float>(kResizeCoefScale)));
    axis.coef1[i] = saturate_short(saturate_int(f * static_cast<float>(kResizeCoefScale)));
  }
  return axis;
}

// ---- SCRFD ----

struct Candidate {
  float score = 0;
  std::array<float, 4> box{};
  std::array<float, 10> keypoints{};
};

constexpr float kNmsThreshold = 0.4F;

// The ArcFace 112x112 destination points, as float32 like the reference's template array.
constexpr std::array<float, 10> kArcFaceTemplate{38.2946F, 51.6963F, 73.5318F, 51.5014F, 56.0252F,
                                                 71.7366F, 41.5493F, 92.3655F, 70.7299F, 92.2041F};

}  // namespace

namespace {

// cv::resize INTER_LINEAR, one output row at a time: `sink(dy, row)` receives each row of out_width * CN
// bytes.
template <int CN, class Sink>
void resize_rows(const std::uint8_t* pixels, int width, int height, int out_width, int out_height,
                 Sink&& sink) {
  constexpr auto kChannels = static_cast<std::size_t>(CN);
  const auto ow = static_cast<std::size_t>(out_width);
  const auto row_len = ow * kChannels;
  const ResizeAxis xs = resize_axis(width, out_width, true);
  const ResizeAxis ys = resize_axis(height, out_height, false);
  // Per output pixel: the first source element and the second tap's offset (0 at the clamped right edge).
  std::vector<std::size_t> x0(ow);
  std::vector<std::size_t> step(ow);
  for (std::size_t dx = 0; dx < ow; ++dx) {
    const auto sx = static_cast<std::size_t>(xs.offset[dx]);
    x0[dx] = sx * kChannels;
    step[dx] = sx + 1 < static_cast<std::size_t>(width) ? kChannels : 0;
  }

  // The horizontal pass of a source row: S[sx] * a0 + S[sx + 1] * a1 (19-bit intermediate). Two rows are
  // cached; consecutive output rows mostly share them.
  const auto src_row_len = static_cast<std::size_t>(width) * kChannels;
  std::array<std::vector<int>, 2> rows{std::vector<int>(row_len), std::vector<int>(row_len)};
  std::array<int, 2> cached{-1, -1};
  // Returns the slot holding row `sy`, computing it if needed without evicting row `keep`.
  auto horizontal = [&](int sy, int keep) -> std::size_t {
    for (std::size_t k = 0; k < 2; ++k) {
      if (cached[k] == sy) return k;
    }
    const std::size_t k = cached[0] == keep ? 1 : 0;
    const std::uint8_t* s = pixels + static_cast<std::size_t>(sy) * src_row_len;
    int* r = rows[k].data();
    for (std::size_t dx = 0; dx < ow; ++dx) {
      const std::uint8_t* p = s + x0[dx];
      const std::size_t q = step[dx];
      const int a0 = xs.coef0[dx];
      const int a1 = xs.coef1[dx];
      for (std::size_t c = 0; c < kChannels; ++c) r[dx * kChannels + c] = p[c] * a0 + p[q + c] * a1;
    }
    cached[k] = sy;
    return k;
  };

  std::vector<std::uint8_t> out_row(row_len);
  for (int dy = 0; dy < out_height; ++dy) {
    const auto i = static_cast<std::size_t>(dy);
    const int sy0 = std::clamp(ys.offset[i], 0, height - 1);
    const int sy1 = std::clamp(ys.offset[i] + 1, 0, height - 1);
    const int b0 = ys.coef0[i];
    const int b1 = ys.coef1[i];
    const int* r0 = rows[horizontal(sy0, sy1)].data();
    const int* r1 = rows[horizontal(sy1, sy0)].data();
    // OpenCV's vertical pass for 8-bit (its SIMD and scalar paths agree): each row pre-shifted by 4, products
    // shifted by 16, then a rounding shift by 2; not the textbook (v + 2^21) >> 22.
    for (std::size_t x = 0; x < row_len; ++x) {
      const int v = (((b0 * (r0[x] >> 4)) >> 16) + ((b1 * (r1[x] >> 4)) >> 16) + 2) >> 2;
      out_row[x] = static_cast<std::uint8_t>(std::clamp(v, 0, 255));
    }
    sink(dy, out_row.data());
  }
}

}  // namespace

namespace {

bool valid_image(std::size_t bytes, int width, int height, int channels) {
  return width > 0 && height > 0 &&
         bytes >= static_cast<std::size_t>(width) * static_cast<std::size_t>(height) *
                      static_cast<std::size_t>(channels);
}

}  // namespace

std::vector<std::uint8_t> resize_linear(std::span<const std::uint8_t> pixels, int width, int height,
                                        int channels, int out_width, int out_height) {
  if (!valid_image(pixels.size(), width, height, channels) || out_width <= 0 || out_height <= 0) return {};
  const auto row_len = static_cast<std::size_t>(out_width) * static_cast<std::size_t>(channels);
  std::vector<std::uint8_t> out(row_len * static_cast<std::size_t>(out_height));
  auto copy = [&](int dy, const std::uint8_t* row) {
    std::copy_n(row, row_len,
                out.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(dy) * row_len));
  };
  switch (channels) {
    case 1:
      resize_rows<1>(pixels.data(), width, height, out_width, out_height, copy);
      break;
    case 3:
      resize_rows<3>(pixels.data(), width, height, out_width, out_height, copy);
      break;
    case 4:
      resize_rows<4>(pixels.data(), width, height, out_width, out_height, copy);
      break;
    default:
      return {};
  }
  return out;
}

LetterboxGeometry letterbox_geometry(int width, int height, int input_width, int input_height) {
  LetterboxGeometry g;
  if (width <= 0 || height <= 0 || input_width <= 0 || input_height <= 0) return {1, 1, 1.0F};
  const double im_ratio = static_cast<double>(height) / width;
  const double model_ratio = static_cast<double>(input_height) / input_width;
  if (im_ratio > model_ratio) {
    g.new_height = input_height;
    g.new_width = static_cast<int>(g.new_height / im_ratio);
  } else {
    g.new_width = input_width;
    g.new_height = static_cast<int>(g.new_width * im_ratio);
  }
  // An aspect ratio beyond the canvas's (e.g. 1000:1 on 640) truncates a side to 0, where the reference fails
  // (cv::resize rejects an empty size); one pixel keeps such images answerable.
  g.new_width = std::max(g.new_width, 1);
  g.new_height = std::max(g.new_height, 1);
  g.det_scale = static_cast<float>(static_cast<double>(g.new_height) / height);
  return g;
}

std::vector<std::uint8_t> letterbox_pixels(const RgbImage& image, int input_width, int input_height,
                                           LetterboxGeometry* geometry) {
  const auto g = letterbox_geometry(image.width, image.height, input_width, input_height);
  if (geometry != nullptr) *geometry = g;
  const auto canvas_row = static_cast<std::size_t>(input_width) * 3;
  std::vector<std::uint8_t> canvas(canvas_row * static_cast<std::size_t>(input_height), 0);
  if (!valid_image(image.pixels.size(), image.width, image.height, 3)) return canvas;
  const auto copy_w = static_cast<std::size_t>(std::min(g.new_width, input_width)) * 3;
  resize_rows<3>(
      image.pixels.data(), image.width, image.height, g.new_width, g.new_height,
      [&](int dy, const std::uint8_t* row) {
        if (dy >= input_height) return;
        std::copy_n(row, copy_w,
                    canvas.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(dy) * canvas_row));
      });
  return canvas;
}

std::vector<float> detector_tensor(const RgbImage& image, int input_width, int input_height,
                                   LetterboxGeometry* geometry) {
  const auto g = letterbox_geometry(image.width, image.height, input_width, input_height);
  if (geometry != nullptr) *geometry = g;
  // (x - 127.5) / 128: exact in float32 for every byte (128 is a power of two), as blobFromImage computes it.
  std::array<float, 256> lut{};
  for (std::size_t v = 0; v < lut.size(); ++v) lut[v] = (static_cast<float>(v) - 127.5F) / 128.0F;
  const auto iw = static_cast<std::size_t>(input_width);
  const auto plane = iw * static_cast<std::size_t>(input_height);
  // Black padding everywhere, then the resized rows written straight into the RGB planes (no canvas).
  std::vector<float> tensor(3 * plane, lut[0]);
  if (!valid_image(image.pixels.size(), image.width, image.height, 3)) return tensor;
  const auto copy_w = std::min(static_cast<std::size_t>(g.new_width), iw);
  resize_rows<3>(image.pixels.data(), image.width, image.height, g.new_width, g.new_height,
                 [&](int dy, const std::uint8_t* row) {
                   if (dy >= input_height) return;
                   float* r = tensor.data() + static_cast<std::size_t>(dy) * iw;
                   float* gp = r + plane;
                   float* b = r + 2 * plane;
                   for (std::size_t x = 0; x < copy_w; ++x) {
                     r[x] = lut[row[3 * x]];
                     gp[x] = lut[row[3 * x + 1]];
                     b[x] = lut[row[3 * x + 2]];
                   }
                 });
  return tensor;
}

std::optional<ScrfdLayout> scrfd_layout(std::size_t output_count) {
  switch (output_count) {
    case 6:
    case 9:
      return ScrfdLayout{{8, 16, 32}, 2, output_count == 9};
    case 10:
    case 15:
      return ScrfdLayout{{8, 16, 32, 64, 128}, 1, output_count == 15};
    default:
      return std::nullopt;
  }
}

std::vector<std::size_t> nms(std::span<const std::array<float, 4>> boxes, float threshold) {
  const std::size_t n = boxes.size();
  std::vector<float> areas(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& b = boxes[i];
    areas[i] = (b[2] - b[0] + 1.0F) * (b[3] - b[1] + 1.0F);
  }
  std::vector<std::size_t> keep;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::vector<std::size_t> rest;
  rest.reserve(n);
  while (!order.empty()) {
    const std::size_t i = order.front();
    keep.push_back(i);
    const auto& a = boxes[i];
    rest.clear();
    for (std::size_t k = 1; k < order.size(); ++k) {
      const std::size_t j = order[k];
      const auto& b = boxes[j];
      const float w = std::max(0.0F, std::min(a[2], b[2]) - std::max(a[0], b[0]) + 1.0F);
      const float h = std::max(0.0F, std::min(a[3], b[3]) - std::max(a[1], b[1]) + 1.0F);
      const float inter = w * h;
      const float iou = inter / (areas[i] + areas[j] - inter);
      if (iou <= threshold) rest.push_back(j);  // NaN (degenerate boxes) is suppressed, like numpy's `<=`
    }
    order.swap(rest);
  }
  return keep;
}

Expected<DetectedFaces> decode_scrfd(const ScrfdLayout& layout,
                                     std::span<const std::span<const float>> outputs, int input_width,
                                     int input_height, float det_scale, float min_score) {
  const std::size_t levels = layout.strides.size();
  const std::size_t needed = levels * (layout.keypoints ? 3 : 2);
  if (outputs.size() < needed) {
    return internal_error("Face detector returned " + std::to_string(outputs.size()) + " outputs, expected " +
                          std::to_string(needed));
  }
  std::vector<Candidate> candidates;
  for (std::size_t level = 0; level < levels; ++level) {
    const int stride = layout.strides[level];
    const auto grid_w = static_cast<std::size_t>(input_width / stride);
    const auto grid_h = static_cast<std::size_t>(input_height / stride);
    const auto anchors = static_cast<std::size_t>(layout.anchors);
    const std::size_t n = grid_w * grid_h * anchors;
    const auto scores = outputs[level];
    const auto dist = outputs[levels + level];
    const auto kps = layout.keypoints ? outputs[2 * levels + level] : std::span<const float>{};
    if (scores.size() != n || dist.size() != 4 * n || (layout.keypoints && kps.size() != 10 * n)) {
      return internal_error("Face detector outputs for stride " + std::to_string(stride) +
                            " do not match a " + std::to_string(input_width) + "x" +
                            std::to_string(input_height) + " input (" + std::to_string(n) +
                            " anchors expected)");
    }
    const auto s = static_cast<float>(stride);
    for (std::size_t i = 0; i < n; ++i) {
      if (!(scores[i] >= min_score)) continue;
      // Anchor centres (x * stride, y * stride), row-major, each repeated once per anchor; no +0.5 offset.
      const std::size_t cell = i / anchors;
      const std::size_t column = cell % grid_w;
      const std::size_t row = cell / grid_w;
      const float cx = static_cast<float>(column) * s;
      const float cy = static_cast<float>(row) * s;
      Candidate c;
      c.score = scores[i];
      // float32 steps as numpy: distances times the stride, centre minus/plus, then / det_scale.
      c.box = {(cx - dist[4 * i] * s) / det_scale, (cy - dist[4 * i + 1] * s) / det_scale,
               (cx + dist[4 * i + 2] * s) / det_scale, (cy + dist[4 * i + 3] * s) / det_scale};
      if (layout.keypoints) {
        for (std::size_t p = 0; p < 5; ++p) {
          c.keypoints[2 * p] = (cx + kps[10 * i + 2 * p] * s) / det_scale;
          c.keypoints[2 * p + 1] = (cy + kps[10 * i + 2 * p + 1] * s) / det_scale;
        }
      }
      candidates.push_back(c);
    }
  }
  // Descending score; NaN never gets here (it fails the threshold), so the order is a strict weak ordering.
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  std::vector<std::array<float, 4>> boxes;
  boxes.reserve(candidates.size());
  for (const auto& c : candidates) boxes.push_back(c.box);
  const auto keep = nms(boxes, kNmsThreshold);

  DetectedFaces faces;
  faces.boxes.reserve(keep.size());
  faces.scores.reserve(keep.size());
  for (const std::size_t k : keep) {
    const auto& c = candidates[k];
    // numpy's round(): half to even, in float32; not clipped to the image.
    faces.boxes.push_back({std::nearbyint(c.box[0]), std::nearbyint(c.box[1]), std::nearbyint(c.box[2]),
                           std::nearbyint(c.box[3])});
    faces.scores.push_back(c.score);
    if (layout.keypoints) faces.landmarks.push_back(c.keypoints);
  }
  return faces;
}

std::optional<Affine> estimate_similarity(std::span<const double> src, std::span<const double> dst) {
  if (src.size() != dst.size() || src.size() < 4 || src.size() % 2 != 0) return std::nullopt;
  const std::size_t n = src.size() / 2;
  const auto count = static_cast<double>(n);
  double smx = 0, smy = 0, dmx = 0, dmy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    smx += src[2 * i];
    smy += src[2 * i + 1];
    dmx += dst[2 * i];
    dmy += dst[2 * i + 1];
  }
  smx /= count;
  smy /= count;
  dmx /= count;
  dmy /= count;
  // Umeyama (1991) with scaling. In 2-D the optimal proper rotation and scale have a closed form: with the
  // cross-covariance A = (1/n) sum (d - mean_d)(s - mean_s)^T, c * R = [[p, -q], [q, p]] / var(s), where
  // p = A00 + A11 and q = A10 - A01. This is the SVD solution (including its det(A) < 0 reflection guard:
  // s1 + sign(det A) * s2 = sqrt(p^2 + q^2)) without the iterative SVD.
  double a00 = 0, a01 = 0, a10 = 0, a11 = 0, var = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double sx = src[2 * i] - smx;
    const double sy = src[2 * i + 1] - smy;
    const double dx = dst[2 * i] - dmx;
    const double dy = dst[2 * i + 1] - dmy;
    a00 += dx * sx;
    a01 += dx * sy;
    a10 += dy * sx;
    a11 += dy * sy;
    var += sx * sx + sy * sy;
  }
  if (!(var > 0) || !std::isfinite(var) || !std::isfinite(a00 + a01 + a10 + a11)) return std::nullopt;
  const double p = (a00 + a11) / var;
  const double q = (a10 - a01) / var;
  if (p == 0 && q == 0) return std::nullopt;
  Affine m{p, -q, 0, q, p, 0};
  m[2] = dmx - (m[0] * smx + m[1] * smy);
  m[5] = dmy - (m[3] * smx + m[4] * smy);
  return m;
}

std::optional<Affine> arcface_transform(const std::array<float, 10>& landmarks) {
  std::array<double, 10> src{};
  std::array<double, 10> dst{};
  for (std::size_t i = 0; i < 10; ++i) {
    src[i] = static_cast<double>(landmarks[i]);
    dst[i] = static_cast<double>(kArcFaceTemplate[i]);
  }
  return estimate_similarity(src, dst);
}

std::vector<std::uint8_t> warp_affine_linear(const RgbImage& image, const Affine& forward, int out_width,
                                             int out_height) {
  constexpr int kInterBits = 5;  // 1/32-pixel sampling grid
  constexpr int kInterTab = 1 << kInterBits;
  constexpr int kAbBits = 10;
  constexpr double kAbScale = 1 << kAbBits;
  constexpr int kRoundDelta = (1 << kAbBits) / kInterTab / 2;
  constexpr int kRemapBits = 15;

  const auto row_len = static_cast<std::size_t>(std::max(out_width, 0)) * 3;
  std::vector<std::uint8_t> out(row_len * static_cast<std::size_t>(std::max(out_height, 0)), 0);
  if (!valid_image(image.pixels.size(), image.width, image.height, 3)) return out;
  // OpenCV inverts the matrix in double (a singular one becomes all zeros: every pixel samples (0, 0)).
  Affine m = forward;
  double det = m[0] * m[4] - m[1] * m[3];
  det = det != 0 ? 1.0 / det : 0.0;
  const double a11 = m[4] * det;
  const double a22 = m[0] * det;
  m[0] = a11;
  m[1] = -m[1] * det;
  m[3] = -m[3] * det;
  m[4] = a22;
  const double b1 = -m[0] * m[2] - m[1] * m[5];
  const double b2 = -m[3] * m[2] - m[4] * m[5];
  m[2] = b1;
  m[5] = b2;

  const int w = image.width;
  const int h = image.height;
  const auto src_row = static_cast<std::size_t>(w) * 3;
  auto tap = [&](int sx, int sy, std::size_t c) -> int {
    if (sx < 0 || sy < 0 || sx >= w || sy >= h) return 0;  // BORDER_CONSTANT with value 0
    return image.pixels[static_cast<std::size_t>(sy) * src_row + static_cast<std::size_t>(sx) * 3 + c];
  };
  // 32-bit wrap-around like OpenCV's int arithmetic, without signed overflow.
  auto wrap = [](std::int64_t v) { return static_cast<std::int32_t>(static_cast<std::uint32_t>(v)); };

  std::vector<int> adelta(static_cast<std::size_t>(out_width));
  std::vector<int> bdelta(static_cast<std::size_t>(out_width));
  for (int x = 0; x < out_width; ++x) {
    adelta[static_cast<std::size_t>(x)] = saturate_int(m[0] * x * kAbScale);
    bdelta[static_cast<std::size_t>(x)] = saturate_int(m[3] * x * kAbScale);
  }
  for (int y = 0; y < out_height; ++y) {
    const int x0 = wrap(std::int64_t{saturate_int((m[1] * y + m[2]) * kAbScale)} + kRoundDelta);
    const int y0 = wrap(std::int64_t{saturate_int((m[4] * y + m[5]) * kAbScale)} + kRoundDelta);
    std::uint8_t* d = out.data() + static_cast<std::size_t>(y) * row_len;
    for (int x = 0; x < out_width; ++x) {
      const int xx = wrap(std::int64_t{x0} + adelta[static_cast<std::size_t>(x)]) >> (kAbBits - kInterBits);
      const int yy = wrap(std::int64_t{y0} + bdelta[static_cast<std::size_t>(x)]) >> (kAbBits - kInterBits);
      // The integer source pixel is stored as a 16-bit map entry by OpenCV, hence the saturation.
      const int sx = saturate_short(xx >> kInterBits);
      const int sy = saturate_short(yy >> kInterBits);
      const int fx = xx & (kInterTab - 1);
      const int fy = yy & (kInterTab - 1);
      // Bilinear weights in 15-bit fixed point: exact products of the 1/32 fractions, summing to 2^15.
      const int w00 = (kInterTab - fy) * (kInterTab - fx) * kInterTab;
      const int w01 = (kInterTab - fy) * fx * kInterTab;
      const int w10 = fy * (kInterTab - fx) * kInterTab;
      const int w11 = fy * fx * kInterTab;
      std::uint8_t* o = d + static_cast<std::size_t>(x) * 3;
      if (sx >= 0 && sy >= 0 && sx + 1 < w && sy + 1 < h) {  // all four taps inside: no border checks
        const std::uint8_t* p =
            image.pixels.data() + static_cast<std::size_t>(sy) * src_row + static_cast<std::size_t>(sx) * 3;
        const std::uint8_t* q = p + src_row;
        for (std::size_t c = 0; c < 3; ++c) {
          const int v = p[c] * w00 + p[3 + c] * w01 + q[c] * w10 + q[3 + c] * w11;
          o[c] = static_cast<std::uint8_t>(std::clamp((v + (1 << (kRemapBits - 1))) >> kRemapBits, 0, 255));
        }
        continue;
      }
      for (std::size_t c = 0; c < 3; ++c) {
        const int v = tap(sx, sy, c) * w00 + tap(sx + 1, sy, c) * w01 + tap(sx, sy + 1, c) * w10 +
                      tap(sx + 1, sy + 1, c) * w11;
        o[c] = static_cast<std::uint8_t>(std::clamp((v + (1 << (kRemapBits - 1))) >> kRemapBits, 0, 255));
      }
    }
  }
  return out;
}

std::vector<std::uint8_t> arcface_crop(const RgbImage& image, const std::array<float, 10>& landmarks) {
  const auto m = arcface_transform(landmarks);
  if (!m) {
    return std::vector<std::uint8_t>(static_cast<std::size_t>(kArcFaceSize) * kArcFaceSize * 3, 0);
  }
  return warp_affine_linear(image, *m, kArcFaceSize, kArcFaceSize);
}

}  // namespace focal::faces
