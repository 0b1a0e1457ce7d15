// SPDX-License-Identifier: AGPL-3.0-or-later
// The face detector's letterbox (cv::resize INTER_LINEAR to fit 640x640, pasted top-left) and the ArcFace
// alignment warp (cv::warpAffine 112x112), focal's own fixed-point code against Debian's OpenCV on the same
// decoded previews: milliseconds per image for each, OpenCV with 1 thread and with its default pool, and
// whether every output byte is equal. Prints JSON (docs/adr/0004-face-preprocessing.md).
//   preprocess_bench IMAGE_DIR [REPEATS]
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

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

std::vector<std::uint8_t> opencv_letterbox(const focal::RgbImage& image, int size) {
  const auto g = focal::faces::letterbox_geometry(image.width, image.height, size, size);
  std::vector<std::uint8_t> canvas(static_cast<std::size_t>(size) * size * 3, 0);
  const cv::Mat src(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.pixels.data()));
  cv::Mat resized;
  cv::resize(src, resized, cv::Size(g.new_width, g.new_height), 0, 0, cv::INTER_LINEAR);
  cv::Mat dst(size, size, CV_8UC3, canvas.data());
  const cv::Rect roi(0, 0, std::min(g.new_width, size), std::min(g.new_height, size));
  resized(roi).copyTo(dst(roi));
  return canvas;
}

std::vector<std::uint8_t> opencv_warp(const focal::RgbImage& image, const focal::faces::Affine& m) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(focal::faces::kArcFaceSize) *
                                focal::faces::kArcFaceSize * 3);
  const cv::Mat src(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.pixels.data()));
  cv::Mat dst(focal::faces::kArcFaceSize, focal::faces::kArcFaceSize, CV_8UC3, out.data());
  const cv::Mat matrix(2, 3, CV_64F, const_cast<double*>(m.data()));
  cv::warpAffine(src, dst, matrix, dst.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  return out;
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

  std::size_t letterbox_equal = 0;
  std::size_t warp_equal = 0;
  for (const auto& image : images) {
    letterbox_equal +=
        focal::faces::letterbox_pixels(image, 640, 640) == opencv_letterbox(image, 640) ? 1 : 0;
    const auto m = transform_for(image);
    warp_equal += focal::faces::warp_affine_linear(image, m, 112, 112) == opencv_warp(image, m) ? 1 : 0;
  }
  const double n = static_cast<double>(images.size());
  auto per_image = [&](const std::function<void(const focal::RgbImage&)>& fn) {
    return median_ms(repeats,
                     [&] {
                       for (const auto& image : images) fn(image);
                     }) /
           n;
  };
  nlohmann::json out;
  out["images"] = images.size();
  out["opencv"] = CV_VERSION;
  out["opencv_default_threads"] = cv::getNumThreads();
  out["letterbox_identical"] = letterbox_equal;
  out["warp_identical"] = warp_equal;
  out["focal_letterbox_ms"] =
      per_image([](const auto& im) { (void)focal::faces::letterbox_pixels(im, 640, 640); });
  out["opencv_letterbox_ms_default_threads"] =
      per_image([](const auto& im) { (void)opencv_letterbox(im, 640); });
  out["focal_warp_ms"] = per_image(
      [&](const auto& im) { (void)focal::faces::warp_affine_linear(im, transform_for(im), 112, 112); });
  out["opencv_warp_ms_default_threads"] =
      per_image([&](const auto& im) { (void)opencv_warp(im, transform_for(im)); });
  cv::setNumThreads(1);
  out["opencv_letterbox_ms_1_thread"] = per_image([](const auto& im) { (void)opencv_letterbox(im, 640); });
  out["opencv_warp_ms_1_thread"] =
      per_image([&](const auto& im) { (void)opencv_warp(im, transform_for(im)); });
  std::cout << out.dump(1) << "\n";
  return 0;
}
