// SPDX-License-Identifier: AGPL-3.0-or-later
// The face detector's input (letterbox: cv::resize INTER_LINEAR to fit 640x640, pasted top-left, then the
// normalised RGB planes) and the ArcFace alignment warp (cv::warpAffine to 112x112), as focal-ml computes them,
// with OpenCV's pool at 1 thread (focal-ml's setting) and at OpenCV's default. Milliseconds per image; prints
// JSON. Commit 4f6dded of this file compared focal's earlier hand-written fixed-point code with OpenCV
// (docs/adr/0004-face-preprocessing.md).
//   preprocess_bench IMAGE_DIR [REPEATS]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "faces/ops.h"
#include "image/decode.h"

namespace {

using Clock = std::chrono::steady_clock;

// Median milliseconds of `repeats` passes of `fn` over every image.
double median_ms(int repeats, const std::function<void()>& fn) {
  std::vector<double> ms;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " IMAGE_DIR [REPEATS]\n";
    return 2;
  }
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  if (!focal::init_image_decoding(argv[0])) return 1;
  std::vector<focal::RgbImage> images;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<std::uint8_t> bytes(std::istreambuf_iterator<char>(in), {});
    auto image = focal::decode_rgb(bytes, focal::DecodeLimits{});
    if (image) images.push_back(std::move(*image));
  }
  if (images.empty()) {
    std::cerr << "no decodable images in " << argv[1] << "\n";
    return 1;
  }
  // A fixed, typical alignment (a face of ~150 px turned by 10 degrees) for every image.
  const double angle = 10.0 * CV_PI / 180.0;
  const double scale = 112.0 / 150.0;
  auto transform_for = [&](const focal::RgbImage& image) {
    const double cx = image.width / 2.0;
    const double cy = image.height / 2.0;
    const double a = scale * std::cos(angle);
    const double b = scale * std::sin(angle);
    return focal::faces::Affine{a, b, 56 - a * cx - b * cy, -b, a, 56 + b * cx - a * cy};
  };

  const double n = static_cast<double>(images.size());
  auto per_image = [&](const std::function<void(const focal::RgbImage&)>& fn) {
    return median_ms(repeats,
                     [&] {
                       for (const auto& image : images) fn(image);
                     }) /
           n;
  };
  auto measure = [&](nlohmann::json& out) {
    out["detector_tensor_ms"] =
        per_image([](const auto& im) { (void)focal::faces::detector_tensor(im, 640, 640); });
    out["letterbox_ms"] =
        per_image([](const auto& im) { (void)focal::faces::letterbox_pixels(im, 640, 640); });
    out["warp_ms"] = per_image(
        [&](const auto& im) { (void)focal::faces::warp_affine_linear(im, transform_for(im), 112, 112); });
  };
  nlohmann::json out;
  out["images"] = images.size();
  out["opencv"] = CV_VERSION;
  out["opencv_default_threads"] = cv::getNumThreads();
  measure(out["default_threads"]);
  focal::faces::limit_image_threads(1);
  measure(out["one_thread"]);
  std::cout << out.dump(1) << "\n";
  return 0;
}
