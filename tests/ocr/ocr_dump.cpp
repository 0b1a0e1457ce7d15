// SPDX-License-Identifier: AGPL-3.0-or-later
// Test helper: decodes an image like focal-ml and writes one intermediate of the OCR pipeline to stdout as raw
// bytes, so the Python fidelity tests can compare it with Pillow directly:
//   ocr_dump lanczos IMAGE W H                 the image resized to W x H with Lanczos (RGB8)
//   ocr_dump crop IMAGE X1 Y1 .. X4 Y4         the perspective crop of one box: int32 width, height, RGB8
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "image/decode.h"
#include "ocr/geometry.h"
#include "preprocess/resize.h"

namespace {

void write(const void* data, std::size_t size) { std::fwrite(data, 1, size, stdout); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " lanczos|crop IMAGE ARGS...\n";
    return 2;
  }
  if (!focal::init_image_decoding(argv[0])) return 1;
  const std::string mode = argv[1];
  std::ifstream in(argv[2], std::ios::binary);
  const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto image = focal::decode_rgb(bytes, focal::DecodeLimits{});
  if (!image) {
    std::cerr << image.error().message << "\n";
    return 3;
  }
  std::vector<double> args;
  for (int i = 3; i < argc; ++i) args.push_back(std::strtod(argv[i], nullptr));
  if (mode == "lanczos" && args.size() == 2) {
    const int w = static_cast<int>(args[0]);
    const int h = static_cast<int>(args[1]);
    const auto out =
        focal::resize_window(focal::RgbView{image->pixels.data(), image->width, image->height},
                             focal::ResizeWindow{w, h, 0, 0, w, h}, focal::ResampleFilter::kLanczos);
    write(out.data(), out.size());
  } else if (mode == "crop" && args.size() == 8) {
    focal::TextQuad box{};
    for (std::size_t i = 0; i < 8; ++i) box[i] = static_cast<float>(args[i]);
    const auto crop = focal::ocr::perspective_crop(image->pixels.data(), image->width, image->height, box);
    const std::array<std::int32_t, 2> size{crop.width, crop.height};
    write(size.data(), sizeof(size));
    write(crop.pixels.data(), crop.pixels.size());
  } else {
    std::cerr << "bad arguments for " << mode << "\n";
    return 2;
  }
  return 0;
}
