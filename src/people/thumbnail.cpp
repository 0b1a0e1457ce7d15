// SPDX-License-Identifier: AGPL-3.0-or-later
// Person thumbnails, as in Immich: a square crop around the feature face, 250 px JPEG, made with libvips.
#include "people/thumbnail.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>
#include <vips/vips8>

#include "core/storage.h"
#include "people/people.h"

namespace focal::people {

std::optional<CropRect> person_thumbnail_crop(const Box& box, int box_width, int box_height, int image_width,
                                              int image_height) {
  if (box_width <= 0 || box_height <= 0 || image_width <= 0 || image_height <= 0) return std::nullopt;
  const double x1 = std::clamp(box.x1, 0, box_width), x2 = std::clamp(box.x2, 0, box_width);
  const double y1 = std::clamp(box.y1, 0, box_height), y2 = std::clamp(box.y2, 0, box_height);
  if (x2 <= x1 || y2 <= y1) return std::nullopt;
  const double sx = static_cast<double>(image_width) / box_width;
  const double sy = static_cast<double>(image_height) / box_height;
  const double left = x1 * sx, right = x2 * sx, top = y1 * sy, bottom = y2 * sy;
  const int cx = static_cast<int>(std::lround((left + right) / 2));
  const int cy = static_cast<int>(std::lround((top + bottom) / 2));
  int half = static_cast<int>(std::floor(std::max(right - left, bottom - top) / 2 * 1.1));
  // Shrink until the square fits inside the image.
  half = std::min({half, cx, cy, image_width - cx, image_height - cy});
  if (half <= 0) return std::nullopt;
  return CropRect{cx - half, cy - half, 2 * half};
}

Status write_person_thumbnail(const std::filesystem::path& source, const Box& box, int box_width,
                              int box_height, const std::filesystem::path& destination, int size,
                              int quality) {
  try {
    // Random access: autorot and the crop read the image out of order. Previews are small (<= 1440 px).
    vips::VImage image = vips::VImage::new_from_file(source.c_str()).autorot();
    auto crop = person_thumbnail_crop(box, box_width, box_height, image.width(), image.height());
    if (!crop) return unprocessable("The feature face box lies outside " + source.string());
    vips::VImage face = image.extract_area(crop->left, crop->top, crop->size, crop->size);
    face = face.resize(static_cast<double>(size) / crop->size);
    if (face.bands() == 4 || face.bands() == 2) face = face.flatten();
    std::error_code ec;
    std::filesystem::create_directories(destination.parent_path(), ec);
    if (ec)
      return internal_error("Cannot create " + destination.parent_path().string() + ": " + ec.message());
    const std::filesystem::path temporary = destination.string() + ".tmp.jpeg";
    face.jpegsave(temporary.c_str(), vips::VImage::option()->set("Q", quality)->set("strip", true));
    std::filesystem::rename(temporary, destination, ec);
    if (ec) return internal_error("Cannot write " + destination.string() + ": " + ec.message());
    return {};
  } catch (const vips::VError& error) {
    // libvips reports a failed write without errno: a nearly full disk is the likely reason then.
    constexpr std::uint64_t kLowSpace = std::uint64_t{1} << 20;
    if (const auto free = free_bytes(destination.parent_path()); free && *free < kLowSpace)
      return storage_full(destination.parent_path(), "writing person thumbnail " + destination.string());
    return unprocessable("Cannot make a person thumbnail from " + source.string() + ": " + error.what());
  }
}

}  // namespace focal::people
