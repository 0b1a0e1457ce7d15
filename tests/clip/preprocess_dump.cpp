// SPDX-License-Identifier: AGPL-3.0-or-later
// Test helper: decodes an image like focal-ml and writes the CLIP visual model input ([3, S, S] float32,
// native endianness) to stdout, so the Python fidelity test can compare tensors with the reference pipeline
// directly.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include "clip/clip_config.h"
#include "clip/visual.h"
#include "image/decode.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " PREPROCESS_CFG_JSON IMAGE\n";
    return 2;
  }
  if (!focal::init_image_decoding(argv[0])) return 1;
  auto config = focal::load_clip_preprocess_config(argv[1]);
  if (!config) {
    std::cerr << config.error().message << "\n";
    return 1;
  }
  std::ifstream in(argv[2], std::ios::binary);
  const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto image = focal::decode_rgb(bytes, focal::DecodeLimits{});
  if (!image) {
    std::cerr << image.error().message << "\n";
    return 3;
  }
  const auto tensor = focal::clip_visual_tensor(*image, *config);
  std::fwrite(tensor.data(), sizeof(float), tensor.size(), stdout);
  return 0;
}
