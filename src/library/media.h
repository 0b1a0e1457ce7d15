// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal: file hashing, EXIF reading (exiv2) and preview/thumbnail generation (libvips) for src/library.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"
#include "image/decode.h"
#include "library/library.h"

namespace focal::library::detail {

// Lowercase hex SHA-256 of a file's content (streamed) or of bytes.
Expected<std::string> sha256_file(const std::filesystem::path& path);
std::string sha256_bytes(std::span<const std::uint8_t> bytes);

// The format from the file's first bytes (never the extension); kUnknown when none matches.
ImageFormat sniff_file(const std::filesystem::path& path);
// "jpeg", "png", … as stored in asset.file_type.
std::string_view file_type_name(ImageFormat format);
// True for extensions of videos and other media focal records but cannot decode.
bool is_video_extension(const std::filesystem::path& path);
// True for extensions of the supported image formats (.jpg, .png, .heic, …).
bool is_image_extension(const std::filesystem::path& path);

// EXIF/XMP/IPTC through exiv2. A file whose metadata is malformed yields an Exif with only file_size set (the
// image may still be fine); never throws.
Exif read_exif(const std::filesystem::path& path, std::int64_t file_size);

// Milliseconds since the epoch for "YYYY-MM-DDTHH:MM:SS[.sss]" plus an optional "+HH:MM" offset (the time is
// taken as UTC when there is no offset); nullopt when unparsable.
std::optional<std::int64_t> parse_exif_time(std::string_view date_time,
                                            std::optional<std::string_view> offset);

struct ImageHeader {
  int width = 0;  // as stored
  int height = 0;
  int orientation = 1;
};
// Reads the header with libvips (no pixel decode); errors for corrupt files and images above max_pixels.
Expected<ImageHeader> read_header(const std::filesystem::path& path, std::uint64_t max_pixels);

struct Rendition {
  int width = 0;  // after orientation
  int height = 0;
};
// Decodes the whole image (failing on truncation/corruption), applies EXIF orientation, and writes a JPEG
// preview (longest side ≤ preview_size, never upscaled) and a WebP thumbnail (longest side ≤ thumbnail_size).
// Files are written to a temporary name and renamed, so readers never see half files.
Expected<Rendition> render(const std::filesystem::path& original, const std::filesystem::path& preview,
                           const std::filesystem::path& thumbnail, const LibraryOptions& options);

}  // namespace focal::library::detail
