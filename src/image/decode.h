// SPDX-License-Identifier: AGPL-3.0-or-later
// Image decoding for all image tasks (Immich's rules): bytes -> 8-bit RGB, no EXIF rotation, ICC ignored.
// Every input is hostile: the format is sniffed from magic bytes and only the matching loader runs, the pixel
// count is checked from the header before decoding, and truncated or corrupt data is an error, not a crash.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace focal {

enum class ImageFormat { kJpeg, kPng, kWebp, kHeif, kTiff, kGif, kBmp, kUnknown };

std::string_view to_string(ImageFormat format);
ImageFormat sniff_image_format(std::span<const std::uint8_t> bytes);

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;  // interleaved RGB, row-major, width * height * 3 bytes
};

struct DecodeLimits {
  std::uint64_t max_pixels = 178956970;
};

// Call once per process before decoding (wraps VIPS_INIT and sets safe defaults).
Status init_image_decoding(const char* argv0);

Expected<RgbImage> decode_rgb(std::span<const std::uint8_t> bytes, const DecodeLimits& limits);

}  // namespace focal
