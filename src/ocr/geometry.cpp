// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ocr/geometry.h"

#include <algorithm>
#include <array>
#include <clipper.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace focal::ocr {
namespace {

constexpr float kBinaryThreshold = 0.3F;
constexpr std::size_t kMaxCandidates = 1000;
constexpr double kUnclipRatio = 1.6;
constexpr float kMinSide = 3;
constexpr float kLineGap = 10;

struct MiniBox {
  std::array<cv::Point2f, 4> corners;  // TL, TR, BR, BL as RapidOCR orders them
  float short_side = 0;
};

// The min-area rectangle of `points`, corners ordered as RapidOCR's get_mini_boxes does: sorted by x (stable),
// then the upper of the two left points first and the upper of the two right points second.
template <class Point>
MiniBox mini_box(const std::vector<Point>& points) {
  const cv::RotatedRect rect = cv::minAreaRect(points);
  std::array<cv::Point2f, 4> p;
  rect.points(p.data());
  std::stable_sort(p.begin(), p.end(), [](const cv::Point2f& a, const cv::Point2f& b) { return a.x < b.x; });
  const bool left_down = p[1].y > p[0].y;
  const bool right_down = p[3].y > p[2].y;
  MiniBox box;
  box.corners = {left_down ? p[0] : p[1], right_down ? p[2] : p[3], right_down ? p[3] : p[2],
                 left_down ? p[1] : p[0]};
  box.short_side = std::min(rect.size.width, rect.size.height);
  return box;
}

int clamp_index(int v, int size) { return std::clamp(v, 0, size - 1); }

// Mean probability inside `polygon` over its bounding box (clipped to the map), like RapidOCR's box_score_*.
double polygon_score(const cv::Mat& probabilities, std::vector<cv::Point> polygon, int xmin, int xmax,
                     int ymin, int ymax) {
  cv::Mat mask = cv::Mat::zeros(ymax - ymin + 1, xmax - xmin + 1, CV_8UC1);
  for (auto& p : polygon) p -= cv::Point(xmin, ymin);
  const std::vector<std::vector<cv::Point>> polygons{std::move(polygon)};
  cv::fillPoly(mask, polygons, cv::Scalar(1));
  return cv::mean(probabilities(cv::Range(ymin, ymax + 1), cv::Range(xmin, xmax + 1)), mask)[0];
}

double box_score_fast(const cv::Mat& probabilities, const std::array<cv::Point2f, 4>& box) {
  const int w = probabilities.cols;
  const int h = probabilities.rows;
  float min_x = box[0].x;
  float max_x = box[0].x;
  float min_y = box[0].y;
  float max_y = box[0].y;
  for (const auto& p : box) {
    min_x = std::min(min_x, p.x);
    max_x = std::max(max_x, p.x);
    min_y = std::min(min_y, p.y);
    max_y = std::max(max_y, p.y);
  }
  const int xmin = clamp_index(static_cast<int>(std::floor(min_x)), w);
  const int xmax = clamp_index(static_cast<int>(std::ceil(max_x)), w);
  const int ymin = clamp_index(static_cast<int>(std::floor(min_y)), h);
  const int ymax = clamp_index(static_cast<int>(std::ceil(max_y)), h);
  std::vector<cv::Point> polygon;
  // The corners are shifted in float32 then truncated toward zero (numpy's astype(int32)); shifting after
  // truncation would differ for negative coordinates.
  for (const auto& p : box) {
    polygon.emplace_back(static_cast<int>(p.x - static_cast<float>(xmin)) + xmin,
                         static_cast<int>(p.y - static_cast<float>(ymin)) + ymin);
  }
  return polygon_score(probabilities, std::move(polygon), xmin, xmax, ymin, ymax);
}

double box_score_slow(const cv::Mat& probabilities, const std::vector<cv::Point>& contour) {
  int min_x = contour[0].x;
  int max_x = contour[0].x;
  int min_y = contour[0].y;
  int max_y = contour[0].y;
  for (const auto& p : contour) {
    min_x = std::min(min_x, p.x);
    max_x = std::max(max_x, p.x);
    min_y = std::min(min_y, p.y);
    max_y = std::max(max_y, p.y);
  }
  return polygon_score(probabilities, contour, clamp_index(min_x, probabilities.cols),
                       clamp_index(max_x, probabilities.cols), clamp_index(min_y, probabilities.rows),
                       clamp_index(max_y, probabilities.rows));
}

// Polygon area and perimeter of the closed ring, computed as GEOS (Shapely) does.
double ring_area(const std::array<cv::Point2f, 4>& box) {
  std::array<double, 10> xy{};
  for (std::size_t i = 0; i < 5; ++i) {
    xy[2 * i] = box[i % 4].x;
    xy[2 * i + 1] = box[i % 4].y;
  }
  const double x0 = xy[0];
  double sum = 0;
  for (std::size_t i = 1; i < 4; ++i) sum += (xy[2 * i] - x0) * (xy[2 * (i - 1) + 1] - xy[2 * (i + 1) + 1]);
  return std::fabs(sum / 2.0);
}

double ring_length(const std::array<cv::Point2f, 4>& box) {
  double length = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const double dx = static_cast<double>(box[(i + 1) % 4].x) - box[i].x;
    const double dy = static_cast<double>(box[(i + 1) % 4].y) - box[i].y;
    length += std::sqrt(dx * dx + dy * dy);
  }
  return length;
}

// Grows the rectangle by area * ratio / perimeter with round joins (Clipper, as pyclipper: coordinates
// truncated to integers); every resulting path's points, concatenated.
std::vector<cv::Point> unclip(const std::array<cv::Point2f, 4>& box) {
  const double distance = ring_area(box) * kUnclipRatio / ring_length(box);
  ClipperLib::Path path;
  for (const auto& p : box) {
    path.emplace_back(static_cast<ClipperLib::cInt>(p.x), static_cast<ClipperLib::cInt>(p.y));
  }
  ClipperLib::ClipperOffset offset;
  offset.AddPath(path, ClipperLib::jtRound, ClipperLib::etClosedPolygon);
  ClipperLib::Paths solution;
  offset.Execute(solution, distance);
  std::vector<cv::Point> points;
  for (const auto& out : solution) {
    for (const auto& p : out) points.emplace_back(static_cast<int>(p.X), static_cast<int>(p.Y));
  }
  return points;
}

// numpy's round-half-to-even in float32 of x / from * to, clipped to [0, to].
float rescale(float x, int from, int to) {
  const float scaled = x / static_cast<float>(from) * static_cast<float>(to);
  return std::clamp(std::nearbyint(scaled), 0.0F, static_cast<float>(to));
}

// RapidOCR's order_points_clockwise on integral corners, then clipping to the image.
TextQuad order_and_clip(const std::array<cv::Point2f, 4>& corners, int width, int height) {
  std::array<cv::Point2f, 4> p = corners;
  std::stable_sort(p.begin(), p.end(), [](const cv::Point2f& a, const cv::Point2f& b) { return a.x < b.x; });
  const auto by_y = [](cv::Point2f& a, cv::Point2f& b) {
    if (b.y < a.y) std::swap(a, b);
  };
  by_y(p[0], p[1]);  // TL, BL
  by_y(p[2], p[3]);  // TR, BR
  const std::array<cv::Point2f, 4> ordered{p[0], p[2], p[3], p[1]};
  TextQuad quad{};
  for (std::size_t i = 0; i < 4; ++i) {
    quad[2 * i] = std::trunc(std::min(std::max(ordered[i].x, 0.0F), static_cast<float>(width - 1)));
    quad[2 * i + 1] = std::trunc(std::min(std::max(ordered[i].y, 0.0F), static_cast<float>(height - 1)));
  }
  return quad;
}

// numpy's float32 norm of an integral 2-vector (exact below 2^24, which every image side keeps it under).
float edge(const TextQuad& q, std::size_t a, std::size_t b) {
  const float dx = q[2 * a] - q[2 * b];
  const float dy = q[2 * a + 1] - q[2 * b + 1];
  return std::sqrt(dx * dx + dy * dy);
}

double pairwise_sum(const double* a, std::size_t n) {  // numpy's float64 pairwise summation
  constexpr std::size_t kBlock = 128;
  if (n < 8) {
    double sum = 0.;
    for (std::size_t i = 0; i < n; ++i) sum += a[i];
    return sum;
  }
  if (n <= kBlock) {
    std::array<double, 8> r{};
    std::copy_n(a, 8, r.begin());
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (std::size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += a[i];
    return sum;
  }
  std::size_t half = n / 2;
  half -= half % 8;
  return pairwise_sum(a, half) + pairwise_sum(a + half, n - half);
}

double round_decimal(double x, int digits) {  // Python's round(x, digits): correctly rounded
  std::array<char, 64> text{};
  std::snprintf(text.data(), text.size(), "%.*f", digits, x);
  return std::strtod(text.data(), nullptr);
}

}  // namespace

DbBoxes db_boxes(std::span<const float> probabilities, int map_width, int map_height, int image_width,
                 int image_height, const DbOptions& options) {
  DbBoxes out;
  if (map_width <= 0 || map_height <= 0 ||
      probabilities.size() != static_cast<std::size_t>(map_width) * static_cast<std::size_t>(map_height)) {
    return out;
  }
  // cv::Mat has no const view; nothing below writes to it.
  const cv::Mat prob(
      map_height, map_width, CV_32FC1,
      const_cast<float*>(probabilities.data()));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  cv::Mat binary(map_height, map_width, CV_8UC1);
  for (int y = 0; y < map_height; ++y) {
    const float* in = prob.ptr<float>(y);
    auto* row = binary.ptr<std::uint8_t>(y);
    for (int x = 0; x < map_width; ++x) row[x] = in[x] > kBinaryThreshold ? 1 : 0;
  }
  cv::Mat dilated;
  cv::dilate(binary, dilated, cv::Mat::ones(2, 2, CV_8UC1));
  dilated *= 255;
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(dilated, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);

  const std::size_t candidates = std::min(contours.size(), kMaxCandidates);
  for (std::size_t c = 0; c < candidates; ++c) {
    const auto& contour = contours[c];
    const MiniBox box = mini_box(contour);
    if (box.short_side < kMinSide) continue;
    const double score =
        options.slow_score ? box_score_slow(prob, contour) : box_score_fast(prob, box.corners);
    if (static_cast<double>(options.box_threshold) > score) continue;
    const auto grown = unclip(box.corners);
    if (grown.empty()) continue;
    MiniBox fitted = mini_box(grown);
    if (fitted.short_side < kMinSide + 2) continue;
    for (auto& p : fitted.corners) {
      p.x = rescale(p.x, map_width, image_width);
      p.y = rescale(p.y, map_height, image_height);
    }
    const TextQuad quad = order_and_clip(fitted.corners, image_width, image_height);
    if (std::trunc(edge(quad, 0, 1)) <= kMinSide || std::trunc(edge(quad, 0, 3)) <= kMinSide) continue;
    out.boxes.push_back(quad);
    out.scores.push_back(score);
  }
  return out;
}

std::vector<std::size_t> reading_order(std::span<const TextQuad> boxes) {
  const std::size_t n = boxes.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return boxes[a][1] < boxes[b][1]; });
  std::vector<std::int64_t> line(n, 0);  // row id per sorted position
  for (std::size_t j = 1; j < n; ++j) {
    line[j] = line[j - 1] + (boxes[order[j]][1] - boxes[order[j - 1]][1] >= kLineGap ? 1 : 0);
  }
  std::vector<double> key(n);
  for (std::size_t j = 0; j < n; ++j) {
    key[j] = static_cast<double>(line[order[j]]) * 1e6 + static_cast<double>(boxes[order[j]][0]);
  }
  std::vector<std::size_t> by_key(n);
  std::iota(by_key.begin(), by_key.end(), 0);
  std::stable_sort(by_key.begin(), by_key.end(),
                   [&](std::size_t a, std::size_t b) { return key[a] < key[b]; });
  std::vector<std::size_t> result(n);
  for (std::size_t j = 0; j < n; ++j) result[j] = order[by_key[j]];
  return result;
}

RgbCrop perspective_crop(const std::uint8_t* rgb, int width, int height, const TextQuad& box) {
  RgbCrop crop;
  const int w = static_cast<int>(std::max(edge(box, 0, 1), edge(box, 2, 3)));
  const int h = static_cast<int>(std::max(edge(box, 0, 3), edge(box, 1, 2)));
  if (w <= 0 || h <= 0 || width <= 0 || height <= 0) return crop;

  // The map from the w x h rectangle to the box (output pixel -> source point) in closed form: unit square to
  // quadrilateral, scaled by the rectangle. Exact for axis-aligned boxes (upstream's SVD is ~1e-13 off, which
  // flips pixels by one level under the truncating sampler in a pattern set by its BLAS build).
  const double x0 = box[0], y0 = box[1], x1 = box[2], y1 = box[3];
  const double x2 = box[4], y2 = box[5], x3 = box[6], y3 = box[7];
  const double sx = x0 - x1 + x2 - x3;
  const double sy = y0 - y1 + y2 - y3;
  double g = 0.0;
  double hh = 0.0;
  if (sx != 0.0 || sy != 0.0) {
    const double dx1 = x1 - x2, dx2 = x3 - x2, dy1 = y1 - y2, dy2 = y3 - y2;
    const double den = dx1 * dy2 - dx2 * dy1;
    if (den == 0.0) return crop;
    g = (sx * dy2 - dx2 * sy) / den;
    hh = (dx1 * sy - sx * dy1) / den;
  }
  const std::array<double, 8> c{(x1 - x0 + g * x1) / w,
                                (x3 - x0 + hh * x3) / h,
                                x0,
                                (y1 - y0 + g * y1) / w,
                                (y3 - y0 + hh * y3) / h,
                                y0,
                                g / w,
                                hh / h};

  // Pillow's generic transform: sample at the output pixel centre, bicubic (a = -1 form) on clamped source
  // indices, truncation to 8 bits; a source point outside the image gives black.
  std::vector<std::uint8_t> out(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3, 0);
  const auto row_of = [&](int y) {
    return rgb + static_cast<std::size_t>(std::clamp(y, 0, height - 1)) * width * 3;
  };
  const auto cubic = [](double v1, double v2, double v3, double v4, double d) {
    const double p1 = v2;
    const double p2 = -v1 + v3;
    const double p3 = 2 * (v1 - v2) + v3 - v4;
    const double p4 = -v1 + v2 - v3 + v4;
    return p1 + d * (p2 + d * (p3 + d * p4));
  };
  const auto floor_int = [](double v) {
    return v < 0.0 ? static_cast<int>(std::floor(v)) : static_cast<int>(v);
  };
  for (int oy = 0; oy < h; ++oy) {
    for (int ox = 0; ox < w; ++ox) {
      const double xo = ox + 0.5;
      const double yo = oy + 0.5;
      const double den = c[6] * xo + c[7] * yo + 1;
      double xin = (c[0] * xo + c[1] * yo + c[2]) / den;
      double yin = (c[3] * xo + c[4] * yo + c[5]) / den;
      if (!(xin >= 0.0 && xin < width && yin >= 0.0 && yin < height)) continue;
      xin -= 0.5;
      yin -= 0.5;
      const int x = floor_int(xin);
      const int y = floor_int(yin);
      const double dx = xin - x;
      const double dy = yin - y;
      std::array<int, 4> xs{};
      for (int k = 0; k < 4; ++k) xs[static_cast<std::size_t>(k)] = std::clamp(x - 1 + k, 0, width - 1) * 3;
      std::uint8_t* px = &out[(static_cast<std::size_t>(oy) * w + ox) * 3];
      for (int band = 0; band < 3; ++band) {
        std::array<double, 4> v{};
        for (int k = 0; k < 4; ++k) {
          const std::uint8_t* in = row_of(y - 1 + k) + band;
          v[static_cast<std::size_t>(k)] = cubic(in[xs[0]], in[xs[1]], in[xs[2]], in[xs[3]], dx);
        }
        const double value = cubic(v[0], v[1], v[2], v[3], dy);
        px[band] = value <= 0.0 ? 0 : value >= 255.0 ? 255 : static_cast<std::uint8_t>(value);
      }
    }
  }
  if (static_cast<double>(h) / w < 1.5) {
    crop.width = w;
    crop.height = h;
    crop.pixels = std::move(out);
    return crop;
  }
  // 90 degrees counter-clockwise: the output's top row is the source's right column.
  crop.width = h;
  crop.height = w;
  crop.pixels.resize(out.size());
  for (int ry = 0; ry < crop.height; ++ry) {
    for (int rx = 0; rx < crop.width; ++rx) {
      const std::uint8_t* from = &out[(static_cast<std::size_t>(rx) * w + (w - 1 - ry)) * 3];
      std::copy_n(from, 3, &crop.pixels[(static_cast<std::size_t>(ry) * crop.width + rx) * 3]);
    }
  }
  return crop;
}

double line_confidence(std::span<const float> kept_step_probabilities) {
  if (kept_step_probabilities.empty()) return 0.0;
  std::vector<double> rounded;
  rounded.reserve(kept_step_probabilities.size());
  for (const float p : kept_step_probabilities) rounded.push_back(round_decimal(p, 5));
  const double mean = pairwise_sum(rounded.data(), rounded.size()) / static_cast<double>(rounded.size());
  return std::nearbyint(mean * 1e5) / 1e5;  // numpy's round: scale, round half to even, unscale
}

}  // namespace focal::ocr
