// SPDX-License-Identifier: AGPL-3.0-or-later
#include "image/decode.h"

#include <turbojpeg.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vips/vips8>

namespace focal {
namespace {

using vips::VImage;

bool starts_with(std::span<const std::uint8_t> b, std::string_view magic, std::size_t offset = 0) {
  return b.size() >= offset + magic.size() && std::memcmp(b.data() + offset, magic.data(), magic.size()) == 0;
}

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::uint32_t le16(const std::uint8_t* p) { return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8); }
std::int32_t le32s(const std::uint8_t* p) {
  return static_cast<std::int32_t>(std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) |
                                   (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24));
}

// Declared dimensions from the container header, where cheap to read, so that a zero-sized image gets the
// clear "zero width or height" message (422: Pillow cannot open such files either) instead of a decoder's.
std::optional<std::pair<std::int64_t, std::int64_t>> header_size(ImageFormat format,
                                                                 std::span<const std::uint8_t> b) {
  switch (format) {
    case ImageFormat::kPng:
      if (b.size() >= 24) return std::pair<std::int64_t, std::int64_t>{be32(&b[16]), be32(&b[20])};
      break;
    case ImageFormat::kGif:
      if (b.size() >= 10) return std::pair<std::int64_t, std::int64_t>{le16(&b[6]), le16(&b[8])};
      break;
    case ImageFormat::kBmp:
      if (b.size() >= 26)
        return std::pair<std::int64_t, std::int64_t>{le32s(&b[18]), std::abs(le32s(&b[22]))};
      break;
    case ImageFormat::kJpeg: {
      // Walk the marker segments to the first start-of-frame.
      std::size_t i = 2;
      while (i + 9 < b.size()) {
        if (b[i] != 0xFF) return std::nullopt;
        const auto marker = b[i + 1];
        if (marker == 0xFF) {
          ++i;
          continue;
        }
        const bool sof =
            marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (sof) {
          return std::pair<std::int64_t, std::int64_t>{(b[i + 7] << 8) | b[i + 8],
                                                       (b[i + 5] << 8) | b[i + 6]};
        }
        i += 2 + ((std::size_t{b[i + 2]} << 8) | b[i + 3]);
      }
      break;
    }
    default:
      break;
  }
  return std::nullopt;
}

VImage load(ImageFormat format, VipsBlob* blob) {
  auto opts = [] { return VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL); };
  switch (format) {
    case ImageFormat::kJpeg:
      // No shrink-on-load, no autorotate: the pixels Pillow would produce (libjpeg ISLOW, fancy upsampling).
      return VImage::jpegload_buffer(blob, opts()->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
    case ImageFormat::kPng:
      return VImage::pngload_buffer(blob, opts()->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
    case ImageFormat::kWebp:
      return VImage::webpload_buffer(blob, opts()->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
    case ImageFormat::kHeif:
      return VImage::heifload_buffer(blob, opts()->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
    case ImageFormat::kTiff:
      return VImage::tiffload_buffer(blob, opts()->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
    case ImageFormat::kGif:  // first frame only
      return VImage::gifload_buffer(blob, opts()->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
    case ImageFormat::kBmp:  // libvips has no native BMP loader; ImageMagick is used only for sniffed BMP
      return VImage::magickload_buffer(blob, VImage::option()->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
    case ImageFormat::kUnknown:
      break;
  }
  throw vips::VError("unsupported format");
}

// Pillow's CMYK -> RGB: channel = (255 - k) - c * (255 - k) / 255, rounded like MULDIV255.
std::uint8_t cmyk_channel(std::uint8_t c, std::uint8_t k) {
  const int nk = 255 - k;
  const int tmp = c * nk + 128;
  const int muldiv = ((tmp >> 8) + tmp) >> 8;
  return static_cast<std::uint8_t>(std::clamp(nk - muldiv, 0, 255));
}

std::string vips_message(const vips::VError& e) {
  std::string msg = e.what();
  vips_error_clear();
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (const auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
  return msg;
}

// JPEG (the preview format) straight into the output buffer with libjpeg-turbo: the same library and settings
// (ISLOW IDCT, fancy upsampling) as Pillow and libvips, so the same pixels, without libvips' pipeline and
// copies. Returns nullopt for what it does not handle (CMYK/YCCK), which then goes through libvips.
std::optional<Expected<RgbImage>> decode_jpeg_fast(std::span<const std::uint8_t> bytes,
                                                   const DecodeLimits& limits) {
  std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
  if (!handle) return std::nullopt;
  int width = 0;
  int height = 0;
  int subsampling = 0;
  int colorspace = 0;
  auto* data =
      const_cast<unsigned char*>(bytes.data());  // TurboJPEG 2.x takes a non-const pointer; it only reads
  const auto size = static_cast<unsigned long>(bytes.size());
  if (tjDecompressHeader3(handle.get(), data, size, &width, &height, &subsampling, &colorspace) != 0) {
    return std::nullopt;  // let libvips produce the detailed error
  }
  // Zero sizes were answered from the header scan already; anything odd here gets libvips' detailed error.
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK || width <= 0 || height <= 0) return std::nullopt;
  const auto pixels = static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height);
  if (pixels > limits.max_pixels) {
    return Expected<RgbImage>(
        Error{ErrorKind::kPayloadTooLarge, "Image is " + std::to_string(width) + "x" +
                                               std::to_string(height) + " pixels, above the limit of " +
                                               std::to_string(limits.max_pixels) + " pixels"});
  }
  RgbImage out;
  out.width = width;
  out.height = height;
  out.pixels.resize(static_cast<std::size_t>(pixels) * 3);
  if (tjDecompress2(handle.get(), data, size, out.pixels.data(), width, width * 3, height, TJPF_RGB,
                    TJFLAG_ACCURATEDCT) != 0) {
    // Like Pillow, recoverable warnings (e.g. extraneous bytes) keep the image; a truncated stream does not.
    const std::string message = tjGetErrorStr2(handle.get());
    if (tjGetErrorCode(handle.get()) != TJERR_WARNING || message.find("Premature end") != std::string::npos) {
      return Expected<RgbImage>(unprocessable("Unable to decode jpeg image: " + message));
    }
  }
  return Expected<RgbImage>(std::move(out));
}

}  // namespace

std::string_view to_string(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kWebp:
      return "webp";
    case ImageFormat::kHeif:
      return "heif";
    case ImageFormat::kTiff:
      return "tiff";
    case ImageFormat::kGif:
      return "gif";
    case ImageFormat::kBmp:
      return "bmp";
    case ImageFormat::kUnknown:
      return "unknown";
  }
  return "unknown";
}

ImageFormat sniff_image_format(std::span<const std::uint8_t> b) {
  if (starts_with(b, "\xFF\xD8\xFF")) return ImageFormat::kJpeg;
  if (starts_with(b, "\x89PNG\r\n\x1A\n")) return ImageFormat::kPng;
  if (starts_with(b, "RIFF") && starts_with(b, "WEBP", 8)) return ImageFormat::kWebp;
  if (starts_with(b, "GIF87a") || starts_with(b, "GIF89a")) return ImageFormat::kGif;
  if (starts_with(b, std::string_view("II*\0", 4)) || starts_with(b, std::string_view("MM\0*", 4))) {
    return ImageFormat::kTiff;
  }
  if (starts_with(b, "BM") && b.size() >= 26) return ImageFormat::kBmp;
  if (starts_with(b, "ftyp", 4)) {
    for (const auto* brand :
         {"heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif", "avis"}) {
      if (starts_with(b, brand, 8)) return ImageFormat::kHeif;
    }
  }
  return ImageFormat::kUnknown;
}

Status init_image_decoding(const char* argv0) {
  if (VIPS_INIT(argv0) != 0) return internal_error("libvips failed to initialise");
  vips_cache_set_max(0);    // no operation cache: it would pin request buffers
  vips_concurrency_set(1);  // requests already run in parallel; decoding stays on the request thread
  return {};
}

Expected<RgbImage> decode_rgb(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
  const auto format = sniff_image_format(bytes);
  if (format == ImageFormat::kUnknown) {
    return unprocessable(
        "Unsupported or unrecognised image format (expected JPEG, PNG, WebP, HEIF/AVIF, TIFF, GIF or BMP)");
  }
  if (const auto size = header_size(format, bytes); size && (size->first == 0 || size->second == 0)) {
    return unprocessable("Image has zero width or height");
  }
  if (format == ImageFormat::kJpeg) {
    if (auto fast = decode_jpeg_fast(bytes, limits)) return std::move(*fast);
  }
  // The blob borrows the request's bytes; it must outlive every lazy read below.
  std::unique_ptr<VipsBlob, void (*)(VipsBlob*)> blob(vips_blob_new(nullptr, bytes.data(), bytes.size()),
                                                      [](VipsBlob* b) { vips_area_unref(VIPS_AREA(b)); });
  try {
    VImage image = load(format, blob.get());
    const auto width = static_cast<std::uint64_t>(image.width());
    const auto height = static_cast<std::uint64_t>(image.height());
    if (width == 0 || height == 0) return unprocessable("Image has zero width or height");
    if (width * height > limits.max_pixels) {
      return Error{ErrorKind::kPayloadTooLarge, "Image is " + std::to_string(width) + "x" +
                                                    std::to_string(height) + " pixels, above the limit of " +
                                                    std::to_string(limits.max_pixels) + " pixels"};
    }
    const bool cmyk = image.interpretation() == VIPS_INTERPRETATION_CMYK && image.bands() >= 4;
    if (image.format() == VIPS_FORMAT_USHORT && image.bands() == 1) {
      // Pillow opens 16-bit grey as mode I;16, whose conversion to RGB clamps at 255 rather than scaling.
      image = image.cast(VIPS_FORMAT_UCHAR);
    } else if (image.format() == VIPS_FORMAT_USHORT) {
      image =
          (image >> 8).cast(VIPS_FORMAT_UCHAR);  // keep the high byte, as Pillow reads 16-bit RGB(A) and LA
    } else if (image.format() != VIPS_FORMAT_UCHAR) {
      image = image.cast(VIPS_FORMAT_UCHAR, VImage::option()->set("shift", false));
    }
    std::size_t size = 0;
    std::unique_ptr<std::uint8_t, void (*)(void*)> raw(
        static_cast<std::uint8_t*>(image.write_to_memory(&size)), g_free);
    const int bands = image.bands();
    const auto pixel_count = static_cast<std::size_t>(width * height);
    if (size != pixel_count * static_cast<std::size_t>(bands))
      return internal_error("decoder returned a short buffer");

    RgbImage out;
    out.width = static_cast<int>(width);
    out.height = static_cast<int>(height);
    out.pixels.resize(pixel_count * 3);
    const std::uint8_t* src = raw.get();
    std::uint8_t* dst = out.pixels.data();
    for (std::size_t i = 0; i < pixel_count; ++i, src += bands, dst += 3) {
      if (cmyk) {
        dst[0] = cmyk_channel(src[0], src[3]);
        dst[1] = cmyk_channel(src[1], src[3]);
        dst[2] = cmyk_channel(src[2], src[3]);
      } else if (bands >= 3) {  // RGB, or RGBA whose alpha is dropped without compositing (as Pillow)
        dst[0] = src[0];
        dst[1] = src[1];
        dst[2] = src[2];
      } else {  // grey (+ alpha): replicated
        dst[0] = dst[1] = dst[2] = src[0];
      }
    }
    return out;
  } catch (const vips::VError& e) {
    return unprocessable("Unable to decode " + std::string(to_string(format)) + " image: " + vips_message(e));
  }
}

}  // namespace focal
