// SPDX-License-Identifier: AGPL-3.0-or-later
#include "faces/ops.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

namespace focal::faces {
namespace {

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

bool valid_image(std::size_t bytes, int width, int height, int channels) {
  return width > 0 && height > 0 &&
         bytes >= static_cast<std::size_t>(width) * static_cast<std::size_t>(height) *
                      static_cast<std::size_t>(channels);
}

// A read-only OpenCV header over interleaved 8-bit pixels (no copy; OpenCV's API takes non-const data).
cv::Mat wrap_pixels(const std::uint8_t* pixels, int width, int height, int channels) {
  return {height, width, CV_8UC(channels), const_cast<std::uint8_t*>(pixels)};  // NOLINT: never written
}

// cv::resize INTER_LINEAR into `dst` (allocated unless it already has the size and type), as the reference calls
// it (OpenCV's 8-bit fixed-point path; Debian's build gives the same bytes as the reference's opencv-python,
// checked by the fidelity suite). False, logged, on failure.
bool resize_into(const cv::Mat& src, cv::Mat& dst, cv::Size size) {
  try {
    cv::resize(src, dst, size, 0, 0, cv::INTER_LINEAR);
    return true;
  } catch (const cv::Exception& e) {
    spdlog::warn("Resizing a {}x{} image to {}x{} failed: {}", src.cols, src.rows, size.width, size.height,
                 e.what());
    return false;
  }
}

// The resized RGB image; empty on failure.
cv::Mat resize_rgb(const RgbImage& image, int out_width, int out_height) {
  cv::Mat out;
  if (!resize_into(wrap_pixels(image.pixels.data(), image.width, image.height, 3), out,
                   cv::Size(out_width, out_height)))
    return {};
  return out;
}

}  // namespace

void limit_image_threads(int threads) { cv::setNumThreads(std::max(threads, 0)); }

std::vector<std::uint8_t> resize_linear(std::span<const std::uint8_t> pixels, int width, int height,
                                        int channels, int out_width, int out_height) {
  if (channels != 1 && channels != 3 && channels != 4) return {};
  if (!valid_image(pixels.size(), width, height, channels) || out_width <= 0 || out_height <= 0) return {};
  std::vector<std::uint8_t> out(static_cast<std::size_t>(out_width) * static_cast<std::size_t>(out_height) *
                                static_cast<std::size_t>(channels));
  cv::Mat dst(out_height, out_width, CV_8UC(channels), out.data());
  if (!resize_into(wrap_pixels(pixels.data(), width, height, channels), dst, dst.size())) return {};
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
  std::vector<std::uint8_t> canvas(
      static_cast<std::size_t>(input_width) * static_cast<std::size_t>(input_height) * 3, 0);
  if (!valid_image(image.pixels.size(), image.width, image.height, 3)) return canvas;
  const cv::Mat resized = resize_rgb(image, g.new_width, g.new_height);
  if (resized.empty()) return canvas;
  cv::Mat dst(input_height, input_width, CV_8UC3, canvas.data());
  const cv::Rect pasted(0, 0, std::min(g.new_width, input_width), std::min(g.new_height, input_height));
  resized(pasted).copyTo(dst(pasted));
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
  const cv::Mat resized = resize_rgb(image, g.new_width, g.new_height);
  if (resized.empty()) return tensor;
  const auto copy_w = std::min(static_cast<std::size_t>(g.new_width), iw);
  const int rows = std::min(g.new_height, input_height);
  for (int dy = 0; dy < rows; ++dy) {
    const std::uint8_t* row = resized.ptr<std::uint8_t>(dy);
    float* r = tensor.data() + static_cast<std::size_t>(dy) * iw;
    float* gp = r + plane;
    float* b = r + 2 * plane;
    for (std::size_t x = 0; x < copy_w; ++x) {
      r[x] = lut[row[3 * x]];
      gp[x] = lut[row[3 * x + 1]];
      b[x] = lut[row[3 * x + 2]];
    }
  }
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
  const auto row_len = static_cast<std::size_t>(std::max(out_width, 0)) * 3;
  std::vector<std::uint8_t> out(row_len * static_cast<std::size_t>(std::max(out_height, 0)), 0);
  if (!valid_image(image.pixels.size(), image.width, image.height, 3) || out.empty()) return out;
  cv::Mat dst(out_height, out_width, CV_8UC3, out.data());
  const cv::Mat matrix(2, 3, CV_64F, const_cast<double*>(forward.data()));  // NOLINT: only read
  try {
    cv::warpAffine(wrap_pixels(image.pixels.data(), image.width, image.height, 3), dst, matrix, dst.size(),
                   cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  } catch (const cv::Exception& e) {
    spdlog::warn("Aligning a face crop failed: {}", e.what());
    std::fill(out.begin(), out.end(), std::uint8_t{0});
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
