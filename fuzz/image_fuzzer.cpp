// SPDX-License-Identifier: AGPL-3.0-or-later
// Image decoding (format sniffing, the libjpeg-turbo fast path, libvips loaders, pixel limits) followed by
// the preprocessing that requests apply: the CLIP resize/crop and the face detector's letterbox.
#include <cstdint>
#include <span>

#include "clip/visual.h"
#include "faces/ops.h"
#include "image/decode.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  (void)argc;
  return focal::init_image_decoding((*argv)[0]).ok() ? 0 : 1;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  focal::DecodeLimits limits;
  limits.max_pixels = 4096 * 4096;  // keeps single inputs fast; the limit logic itself is what is fuzzed
  auto image = focal::decode_rgb(std::span<const std::uint8_t>(data, size), limits);
  if (!image) return 0;
  if (image->width <= 0 || image->height <= 0) __builtin_trap();
  focal::ClipPreprocessConfig clip;
  clip.size = 32;
  clip.mean = {0.5F, 0.5F, 0.5F};
  clip.std = {0.25F, 0.25F, 0.25F};
  const auto tensor = focal::clip_visual_tensor(*image, clip);
  if (tensor.size() != std::size_t{3} * 32 * 32) __builtin_trap();
  focal::faces::LetterboxGeometry geometry;
  const auto canvas = focal::faces::letterbox_pixels(*image, 64, 64, &geometry);
  if (canvas.size() != std::size_t{64} * 64 * 3) __builtin_trap();
  return 0;
}
