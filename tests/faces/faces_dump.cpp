// SPDX-License-Identifier: AGPL-3.0-or-later
// Test helper: decodes an image like focal-ml and writes one intermediate of the face pipeline to stdout as
// raw bytes, so the Python fidelity tests can compare it with OpenCV directly:
//   faces_dump letterbox IMAGE W H          the W x H detector canvas (RGB8)
//   faces_dump resize IMAGE W H             the image resized to W x H (RGB8)
//   faces_dump warp IMAGE W H M0 .. M5      the image warped by the forward 2x3 matrix M (RGB8)
//   faces_dump align IMAGE L0 .. L9 [...]   the 112x112 ArcFace crop (RGB8) of each set of five landmarks
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "faces/ops.h"
#include "image/decode.h"

namespace {

void write(const std::vector<std::uint8_t>& bytes) { std::fwrite(bytes.data(), 1, bytes.size(), stdout); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " letterbox|resize|warp|align IMAGE ARGS...\n";
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
  const auto arg_int = [&](std::size_t i) { return static_cast<int>(args.at(i)); };
  if (mode == "letterbox" && args.size() == 2) {
    write(focal::faces::letterbox_pixels(*image, arg_int(0), arg_int(1)));
  } else if (mode == "resize" && args.size() == 2) {
    write(focal::faces::resize_linear(image->pixels, image->width, image->height, 3, arg_int(0), arg_int(1)));
  } else if (mode == "warp" && args.size() == 8) {
    const focal::faces::Affine m{args[2], args[3], args[4], args[5], args[6], args[7]};
    write(focal::faces::warp_affine_linear(*image, m, arg_int(0), arg_int(1)));
  } else if (mode == "align" && !args.empty() && args.size() % 10 == 0) {
    for (std::size_t f = 0; f < args.size(); f += 10) {
      std::array<float, 10> landmarks{};
      for (std::size_t i = 0; i < 10; ++i) landmarks[i] = static_cast<float>(args[f + i]);
      write(focal::faces::arcface_crop(*image, landmarks));
    }
  } else {
    std::cerr << "bad arguments for " << mode << "\n";
    return 2;
  }
  return 0;
}
