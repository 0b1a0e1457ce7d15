// SPDX-License-Identifier: AGPL-3.0-or-later
// The numerics of the reference face pipeline (Immich's InsightFace SCRFD and ArcFace), giving what it gets from
// OpenCV and numpy, bit for bit where the reference is integer arithmetic:
// - cv::resize(INTER_LINEAR) and cv::warpAffine(INTER_LINEAR, BORDER_CONSTANT 0) on 8-bit images: the same
//   OpenCV calls (Debian's build; the fidelity tests check the bytes against the reference's opencv-python;
//   docs/adr/0004-face-preprocessing.md);
// - SCRFD decoding and greedy "+1" NMS in float32, the precision numpy computes them in;
// - the ArcFace similarity transform (least-squares Umeyama) in double.
// Used by FaceDetector/FaceRecognizer; exposed for the unit tests, the fidelity dump helper and the
// benchmark.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/error.h"
#include "image/decode.h"
#include "tasks/output.h"

namespace focal::faces {

// OpenCV's own thread pool for the image operations below. Requests already run in parallel (one per
// MACHINE_LEARNING_REQUEST_THREADS slot), so per-image threads only compete with them and with ORT's pools;
// focal-ml sets 1. Process-wide (an OpenCV setting); call once at start.
void limit_image_threads(int threads);

// cv::resize(src, dst, Size(out_width, out_height), 0, 0, INTER_LINEAR) for an 8-bit image with `channels`
// (1, 3 or 4; anything else gives an empty result) interleaved channels. All sizes must be >= 1; `pixels`
// holds width * height * channels bytes.
std::vector<std::uint8_t> resize_linear(std::span<const std::uint8_t> pixels, int width, int height,
                                        int channels, int out_width, int out_height);

// Where the image lands on the detector canvas (resized size, pasted top-left) and the box scale.
struct LetterboxGeometry {
  int new_width = 0;
  int new_height = 0;
  float det_scale = 1;  // new_height / height, as the float32 numpy divides the boxes by
};
LetterboxGeometry letterbox_geometry(int width, int height, int input_width, int input_height);

// The letterboxed canvas: input_width x input_height interleaved RGB, the resized image at the top-left,
// black elsewhere.
std::vector<std::uint8_t> letterbox_pixels(const RgbImage& image, int input_width, int input_height,
                                           LetterboxGeometry* geometry = nullptr);

// The detector input [3, input_height, input_width], RGB planes, (x - 127.5) / 128.
std::vector<float> detector_tensor(const RgbImage& image, int input_width, int input_height,
                                   LetterboxGeometry* geometry = nullptr);

// The SCRFD output layout, from the number of outputs: 6/9 = strides 8,16,32 with 2 anchors,
// 10/15 = strides 8..128 with 1 anchor; 9 and 15 carry keypoints.
struct ScrfdLayout {
  std::vector<int> strides;
  int anchors = 0;
  bool keypoints = false;
};
std::optional<ScrfdLayout> scrfd_layout(std::size_t output_count);

// Decodes raw detector outputs (graph order; any leading batch dimension of 1 flattened away) into faces:
// anchors scoring >= min_score, boxes and keypoints divided by det_scale, sorted by descending score (ties:
// lower anchor index first), greedy NMS at IoU 0.4, boxes rounded half-to-even and not clipped. Landmarks are
// empty for layouts without keypoints. Fails when an output's size does not fit the layout.
Expected<DetectedFaces> decode_scrfd(const ScrfdLayout& layout,
                                     std::span<const std::span<const float>> outputs, int input_width,
                                     int input_height, float det_scale, float min_score);

// Greedy NMS over boxes (x1, y1, x2, y2) already in descending score order, "+1" area convention, float32;
// a box is kept while its IoU with every kept box is <= threshold. Returns the kept indices in order.
std::vector<std::size_t> nms(std::span<const std::array<float, 4>> boxes, float threshold);

// A 2x3 affine matrix, row-major: x' = m[0] x + m[1] y + m[2], y' = m[3] x + m[4] y + m[5].
using Affine = std::array<double, 6>;

// Least-squares similarity (rotation, uniform scale, translation) mapping the points `src` onto `dst`
// (interleaved x, y; same count >= 2), i.e. Umeyama's estimate with scaling. Nullopt when `src` is degenerate
// (all points equal) or the inputs are not finite.
std::optional<Affine> estimate_similarity(std::span<const double> src, std::span<const double> dst);

// The transform from five detected landmarks to the ArcFace 112x112 template.
std::optional<Affine> arcface_transform(const std::array<float, 10>& landmarks);

// cv::warpAffine(image, out, m, Size(out_width, out_height), INTER_LINEAR, BORDER_CONSTANT, 0) with the
// forward (source -> destination) matrix `m`; interleaved RGB out. Like OpenCV, a singular `m` samples pixel
// (0, 0) everywhere.
std::vector<std::uint8_t> warp_affine_linear(const RgbImage& image, const Affine& m, int out_width,
                                             int out_height);

inline constexpr int kArcFaceSize = 112;

// The aligned 112x112 RGB face crop; black when the landmarks are degenerate.
std::vector<std::uint8_t> arcface_crop(const RgbImage& image, const std::array<float, 10>& landmarks);

}  // namespace focal::faces
