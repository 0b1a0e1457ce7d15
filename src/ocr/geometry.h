// SPDX-License-Identifier: AGPL-3.0-or-later
// The numeric steps of PP-OCR text detection and recognition that must match the reference pipeline (Immich's
// OCR models on RapidOCR, OpenCV and Pillow) exactly: DB post-processing of the probability map, the reading
// order, the perspective crop of a text line, and the confidence of a CTC line.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tasks/output.h"

namespace focal::ocr {

struct DbOptions {
  float box_threshold = 0.5F;  // minScore: candidates with a lower mean probability are dropped
  bool slow_score = false;     // scoreMode "slow": mean over the contour instead of its min-area rectangle
};

struct DbBoxes {
  std::vector<TextQuad> boxes;  // TL, TR, BR, BL in image pixels, integral values
  std::vector<double> scores;
};

// Text boxes from a DB probability map of map_width x map_height (row-major) computed on the image resized
// from image_width x image_height. Probability > 0.3, 2x2 dilation, at most 1000 contours; each becomes its
// min-area rectangle (short side >= 3), is scored, grown by the "unclip" offset (distance = area * 1.6 /
// perimeter, round joins), re-fitted (short side >= 5), scaled to the image, and kept when both sides exceed
// 3 px. Detection order (OpenCV's contour order).
DbBoxes db_boxes(std::span<const float> probabilities, int map_width, int map_height, int image_width,
                 int image_height, const DbOptions& options);

// Reading order of boxes: by the top-left y, rows split where consecutive y differ by >= 10 px, then by x in a
// row. Reproduces upstream's indexing quirk (row ids looked up through the permutation), so it is not always
// the "obvious" order; identical results matter more here.
std::vector<std::size_t> reading_order(std::span<const TextQuad> boxes);

struct RgbCrop {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;  // interleaved RGB
};

// The text line under `box` (pixel corners TL, TR, BR, BL) rectified to trunc(max top/bottom edge) x
// trunc(max left/right edge) by Pillow's perspective transform with bicubic sampling (pixels whose source
// falls outside the image are black), rotated 90 degrees counter-clockwise when it is at least 1.5 times
// taller than wide. Empty when the box has no area.
RgbCrop perspective_crop(const std::uint8_t* rgb, int width, int height, const TextQuad& box);

// Confidence of one decoded line from the per-step probabilities of its kept steps: each rounded to 5
// decimals, their mean (numpy's pairwise float64 sum) rounded to 5 decimals; 0 when there are none.
double line_confidence(std::span<const float> kept_step_probabilities);

}  // namespace focal::ocr
