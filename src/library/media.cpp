// SPDX-License-Identifier: AGPL-3.0-or-later
#include "library/media.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <exiv2/exiv2.hpp>
#include <fstream>
#include <random>
#include <system_error>
#include <vips/vips8>

#include "core/logging.h"
#include "core/storage.h"

namespace focal::library::detail {
namespace {

std::string to_hex(const unsigned char* digest, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[digest[i] >> 4]);
    out.push_back(kDigits[digest[i] & 0xF]);
  }
  return out;
}

std::string trim(std::string text) {
  auto not_space = [](unsigned char c) { return !std::isspace(c) && c != '\0'; };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

// The first non-empty value among `keys` in the Exif, XMP and IPTC blocks.
std::optional<std::string> first_text(const Exiv2::Image& image, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    std::string value;
    const std::string_view k(key);
    if (k.starts_with("Exif.")) {
      const auto& data = image.exifData();
      auto it = data.findKey(Exiv2::ExifKey(key));
      if (it != data.end()) value = it->toString();
    } else if (k.starts_with("Xmp.")) {
      const auto& data = image.xmpData();
      auto it = data.findKey(Exiv2::XmpKey(key));
      if (it != data.end()) value = it->toString();
    } else if (k.starts_with("Iptc.")) {
      const auto& data = image.iptcData();
      auto it = data.findKey(Exiv2::IptcKey(key));
      if (it != data.end()) value = it->toString();
    }
    // XMP language alternatives print as 'lang="x-default" text'.
    if (value.starts_with("lang=")) {
      if (auto space = value.find(' '); space != std::string::npos) value = value.substr(space + 1);
    }
    value = trim(std::move(value));
    if (!value.empty()) return value;
  }
  return std::nullopt;
}

std::optional<double> parse_double(const std::string& text) {
  try {
    std::size_t used = 0;
    double value = std::stod(text, &used);
    if (used == 0 || !std::isfinite(value)) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<int> parse_int(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  auto value = parse_double(*text);
  if (!value) return std::nullopt;
  return static_cast<int>(std::lround(*value));
}

// An EXIF GPS coordinate: three rationals (degrees, minutes, seconds) and an N/S/E/W reference.
std::optional<double> gps_coordinate(const Exiv2::ExifData& data, const char* key, const char* ref_key) {
  auto it = data.findKey(Exiv2::ExifKey(key));
  if (it == data.end() || it->count() < 1) return std::nullopt;
  double value = 0;
  double scale = 1;
  for (long i = 0; i < std::min<long>(3, it->count()); ++i) {
    const auto rational = it->toRational(i);
    if (rational.second == 0) {
      if (i == 0) return std::nullopt;
      break;
    }
    value += static_cast<double>(rational.first) / rational.second / scale;
    scale *= 60;
  }
  auto ref = data.findKey(Exiv2::ExifKey(ref_key));
  if (ref != data.end()) {
    const std::string r = trim(ref->toString());
    if (r == "S" || r == "W") value = -value;
  }
  if (!std::isfinite(value)) return std::nullopt;
  return value;
}

// "+HH:MM" from "+HH:MM", "+HHMM" or "Z"; nullopt otherwise.
std::optional<std::string> normalize_offset(std::string text) {
  text = trim(std::move(text));
  if (text == "Z") return std::string("+00:00");
  if (text.size() == 5 && (text[0] == '+' || text[0] == '-')) text.insert(3, ":");
  if (text.size() == 6 && (text[0] == '+' || text[0] == '-') && text[3] == ':' &&
      std::isdigit(static_cast<unsigned char>(text[1])) &&
      std::isdigit(static_cast<unsigned char>(text[2])) &&
      std::isdigit(static_cast<unsigned char>(text[4])) &&
      std::isdigit(static_cast<unsigned char>(text[5]))) {
    return text;
  }
  return std::nullopt;
}

// "YYYY:MM:DD HH:MM:SS" or ISO "YYYY-MM-DDTHH:MM:SS[.fff][±HH:MM]" → ("YYYY-MM-DDTHH:MM:SS", offset).
std::optional<std::pair<std::string, std::optional<std::string>>> normalize_date(std::string text) {
  text = trim(std::move(text));
  if (text.size() < 19) return std::nullopt;
  std::string base = text.substr(0, 19);
  base[4] = '-';
  base[7] = '-';
  base[10] = 'T';
  for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u, 11u, 12u, 14u, 15u, 17u, 18u}) {
    if (!std::isdigit(static_cast<unsigned char>(base[i]))) return std::nullopt;
  }
  if (base[13] != ':' || base[16] != ':') return std::nullopt;
  if (base.starts_with("0000")) return std::nullopt;  // "0000:00:00 00:00:00" = unset
  std::string rest = text.substr(19);
  if (!rest.empty() && rest[0] == '.') {
    std::size_t digits = 1;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
    base += rest.substr(0, std::min<std::size_t>(digits, 4));
    rest = rest.substr(digits);
  }
  return std::pair{base, rest.empty() ? std::nullopt : normalize_offset(rest)};
}

std::span<const std::uint8_t> bytes_of(const void* data, std::size_t size) {
  return {static_cast<const std::uint8_t*>(data), size};
}

// libvips' error buffer is process-wide: keep the first line (this failure's) and clear it so that messages
// do not pile up across jobs.
std::string vips_message(const vips::VError& e) {
  std::string message = e.what();
  vips_error_clear();
  if (const auto nl = message.find('\n'); nl != std::string::npos) message.resize(nl);
  message = trim(std::move(message));
  return message.empty() ? std::string("unreadable data") : message;
}

Status check_supported(const std::filesystem::path& path) {
  if (sniff_file(path) == ImageFormat::kUnknown) return unprocessable("not a supported image format");
  return {};
}

}  // namespace

Expected<std::string> sha256_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return bad_request(fmt::format("cannot open {}", path.string()));
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = in.gcount();
    if (got > 0) {
      crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(buffer.data()),
                                static_cast<unsigned long long>(got));
    }
  }
  if (in.bad()) return internal_error(fmt::format("read error on {}", path.string()));
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256_final(&state, digest.data());
  return to_hex(digest.data(), digest.size());
}

std::string sha256_bytes(std::span<const std::uint8_t> bytes) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), bytes.data(), bytes.size());
  return to_hex(digest.data(), digest.size());
}

ImageFormat sniff_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<std::uint8_t, 64> head{};
  in.read(reinterpret_cast<char*>(head.data()), head.size());
  const auto got = static_cast<std::size_t>(std::max<std::streamsize>(0, in.gcount()));
  return sniff_image_format(std::span<const std::uint8_t>(head.data(), got));
}

std::string_view file_type_name(ImageFormat format) {
  // The decoder's names, except that an unknown format has an empty (not NULL) file type.
  return format == ImageFormat::kUnknown ? std::string_view("") : focal::to_string(format);
}

namespace {
std::string lower_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}
}  // namespace

bool is_image_extension(const std::filesystem::path& path) {
  const std::string ext = lower_extension(path);
  static constexpr std::array<std::string_view, 13> kImage{".jpg",  ".jpeg", ".png", ".webp", ".heic",
                                                           ".heif", ".avif", ".tif", ".tiff", ".gif",
                                                           ".bmp",  ".jpe",  ".jfif"};
  return std::find(kImage.begin(), kImage.end(), ext) != kImage.end();
}

bool is_video_extension(const std::filesystem::path& path) {
  const std::string ext = lower_extension(path);
  static constexpr std::array<std::string_view, 14> kVideo{".mp4",  ".mov", ".m4v", ".avi",  ".mkv",
                                                           ".webm", ".3gp", ".mts", ".m2ts", ".mpg",
                                                           ".mpeg", ".wmv", ".flv", ".insv"};
  return std::find(kVideo.begin(), kVideo.end(), ext) != kVideo.end();
}

std::optional<std::int64_t> parse_exif_time(std::string_view date_time,
                                            std::optional<std::string_view> offset) {
  if (date_time.size() < 19) return std::nullopt;
  std::tm tm{};
  const std::string text(date_time.substr(0, 19));
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec) != 6) {
    return std::nullopt;
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::int64_t ms = static_cast<std::int64_t>(timegm(&tm)) * 1000;
  if (date_time.size() > 20 && date_time[19] == '.') {
    std::string fraction(date_time.substr(20, 3));
    while (fraction.size() < 3) fraction.push_back('0');
    ms += std::strtol(fraction.c_str(), nullptr, 10);
  }
  if (offset && offset->size() == 6) {
    const int sign = (*offset)[0] == '-' ? -1 : 1;
    const int hours = ((*offset)[1] - '0') * 10 + ((*offset)[2] - '0');
    const int minutes = ((*offset)[4] - '0') * 10 + ((*offset)[5] - '0');
    ms -= sign * (hours * 60 + minutes) * 60'000LL;
  }
  return ms;
}

Exif read_exif(const std::filesystem::path& path, std::int64_t file_size) {
  Exif exif;
  exif.file_size = file_size;
  try {
    auto image = Exiv2::ImageFactory::open(path.string());
    if (image.get() == nullptr) return exif;
    image->readMetadata();
    const auto& data = image->exifData();

    exif.make = first_text(*image, {"Exif.Image.Make", "Xmp.tiff.Make"});
    exif.model = first_text(*image, {"Exif.Image.Model", "Xmp.tiff.Model"});
    exif.lens_model = first_text(*image, {"Exif.Photo.LensModel", "Xmp.exifEX.LensModel", "Xmp.aux.Lens"});
    exif.description = first_text(*image, {"Exif.Image.ImageDescription", "Xmp.dc.description",
                                           "Iptc.Application2.Caption", "Exif.Photo.UserComment"});
    if (exif.description && exif.description->starts_with("charset=")) {
      if (auto space = exif.description->find(' '); space != std::string::npos) {
        exif.description = trim(exif.description->substr(space + 1));
      }
      if (exif.description->empty()) exif.description.reset();
    }
    exif.rating = parse_int(first_text(*image, {"Xmp.xmp.Rating", "Exif.Image.Rating"}));
    if (exif.rating && (*exif.rating < -1 || *exif.rating > 5)) exif.rating.reset();
    exif.orientation = parse_int(first_text(*image, {"Exif.Image.Orientation", "Xmp.tiff.Orientation"}));
    if (exif.orientation && (*exif.orientation < 1 || *exif.orientation > 8)) exif.orientation.reset();

    exif.latitude = gps_coordinate(data, "Exif.GPSInfo.GPSLatitude", "Exif.GPSInfo.GPSLatitudeRef");
    exif.longitude = gps_coordinate(data, "Exif.GPSInfo.GPSLongitude", "Exif.GPSInfo.GPSLongitudeRef");
    if (!exif.latitude || !exif.longitude || std::abs(*exif.latitude) > 90 ||
        std::abs(*exif.longitude) > 180 || (*exif.latitude == 0 && *exif.longitude == 0)) {
      exif.latitude.reset();
      exif.longitude.reset();
    }

    // Date taken, most specific first (Immich's order: DateTimeOriginal, then creation, then others).
    struct DateSource {
      const char* date;
      const char* subsec;
      const char* offset;
    };
    static constexpr std::array<DateSource, 6> kDates{{
        {"Exif.Photo.DateTimeOriginal", "Exif.Photo.SubSecTimeOriginal", "Exif.Photo.OffsetTimeOriginal"},
        {"Xmp.exif.DateTimeOriginal", nullptr, nullptr},
        {"Exif.Photo.DateTimeDigitized", "Exif.Photo.SubSecTimeDigitized", "Exif.Photo.OffsetTimeDigitized"},
        {"Xmp.photoshop.DateCreated", nullptr, nullptr},
        {"Xmp.xmp.CreateDate", nullptr, nullptr},
        {"Exif.Image.DateTime", "Exif.Photo.SubSecTime", "Exif.Photo.OffsetTime"},
    }};
    for (const auto& source : kDates) {
      auto text = first_text(*image, {source.date});
      if (!text) continue;
      auto parsed = normalize_date(*text);
      if (!parsed) continue;
      std::string date = parsed->first;
      if (source.subsec && date.size() == 19) {
        if (auto subsec = first_text(*image, {source.subsec})) {
          std::string digits;
          for (char c : *subsec) {
            if (std::isdigit(static_cast<unsigned char>(c))) digits.push_back(c);
          }
          if (!digits.empty()) date += "." + digits.substr(0, 3);
        }
      }
      exif.date_time_original = date;
      exif.time_zone = parsed->second;
      if (!exif.time_zone && source.offset) {
        if (auto offset = first_text(*image, {source.offset})) exif.time_zone = normalize_offset(*offset);
      }
      break;
    }
    if (!exif.date_time_original) {
      // IPTC keeps date and time apart: "2020-01-02" and "10:11:12+02:00".
      auto date = first_text(*image, {"Iptc.Application2.DateCreated"});
      auto time = first_text(*image, {"Iptc.Application2.TimeCreated"});
      if (date && date->size() >= 10) {
        auto parsed = normalize_date(date->substr(0, 10) + "T" + (time ? *time : std::string("00:00:00")));
        if (parsed) {
          exif.date_time_original = parsed->first;
          exif.time_zone = parsed->second;
        }
      }
    }

    exif.exif_image_width = parse_int(first_text(*image, {"Exif.Photo.PixelXDimension"}));
    exif.exif_image_height = parse_int(first_text(*image, {"Exif.Photo.PixelYDimension"}));
    if (image->pixelWidth() > 0 && image->pixelHeight() > 0) {
      exif.exif_image_width = image->pixelWidth();
      exif.exif_image_height = image->pixelHeight();
    }
  } catch (const std::exception& e) {
    // Malformed metadata must not stop the import: keep what was read so far.
    spdlog::debug("Unreadable metadata in {}: {}", path.string(), e.what());
  }
  return exif;
}

Expected<ImageHeader> read_header(const std::filesystem::path& path, std::uint64_t max_pixels) {
  if (Status supported = check_supported(path); !supported) return supported.error();
  try {
    auto image = vips::VImage::new_from_file(path.c_str(),
                                             vips::VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL));
    ImageHeader header;
    header.width = image.width();
    header.height = image.height();
    if (header.width <= 0 || header.height <= 0) return unprocessable("image has zero width or height");
    if (static_cast<std::uint64_t>(header.width) * static_cast<std::uint64_t>(header.height) > max_pixels) {
      return unprocessable(fmt::format("image of {}x{} pixels exceeds the limit of {} pixels", header.width,
                                       header.height, max_pixels));
    }
    if (image.get_typeof(VIPS_META_ORIENTATION) != 0) {
      const int orientation = image.get_int(VIPS_META_ORIENTATION);
      if (orientation >= 1 && orientation <= 8) header.orientation = orientation;
    }
    return header;
  } catch (const vips::VError& e) {
    // libvips' error text is process-wide and may hold another thread's message: log it, record a stable
    // reason.
    spdlog::debug("{}: {}", path.string(), vips_message(e));
    return unprocessable("cannot read the image header (corrupt or not an image)");
  }
}

Expected<Rendition> render(const std::filesystem::path& original, const std::filesystem::path& preview,
                           const std::filesystem::path& thumbnail, const LibraryOptions& options) {
  if (Status supported = check_supported(original); !supported) return supported.error();
  try {
    // thumbnail() shrinks on load (JPEG DCT scaling, WebP/HEIF scaled decode) and applies EXIF orientation.
    auto image = vips::VImage::thumbnail(original.c_str(), options.preview_size,
                                         vips::VImage::option()
                                             ->set("height", options.preview_size)
                                             ->set("size", VIPS_SIZE_DOWN)
                                             ->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
    if (image.interpretation() != VIPS_INTERPRETATION_sRGB &&
        image.interpretation() != VIPS_INTERPRETATION_B_W) {
      image = image.colourspace(VIPS_INTERPRETATION_sRGB);
    }
    if (image.has_alpha()) {
      image = image.flatten(vips::VImage::option()->set("background", std::vector<double>{255, 255, 255}));
    }
    if (image.format() != VIPS_FORMAT_UCHAR) image = image.cast(VIPS_FORMAT_UCHAR);
    // Decode once: both renditions come from this in-memory preview.
    image = image.copy_memory();
    // Renditions carry no metadata (orientation is already applied). Dropping it here, on an image of our
    // own, also keeps jpegsave from rewriting an EXIF blob still shared with the loader (a use-after-free
    // under ASan with libvips 8.14 when several workers save at once).
    image = image.copy();
    for (const char* name : {VIPS_META_EXIF_NAME, VIPS_META_XMP_NAME, VIPS_META_IPTC_NAME,
                             VIPS_META_PHOTOSHOP_NAME, VIPS_META_ICC_NAME, VIPS_META_ORIENTATION}) {
      image.remove(name);
    }

    void* jpeg = nullptr;
    std::size_t jpeg_size = 0;
    image.write_to_buffer(".jpg", &jpeg, &jpeg_size,
                          vips::VImage::option()->set("Q", options.preview_quality)->set("strip", true));
    std::unique_ptr<void, decltype(&g_free)> jpeg_owner(jpeg, &g_free);

    auto small = image.thumbnail_image(
        options.thumbnail_size,
        vips::VImage::option()->set("height", options.thumbnail_size)->set("size", VIPS_SIZE_DOWN));
    void* webp = nullptr;
    std::size_t webp_size = 0;
    small.write_to_buffer(".webp", &webp, &webp_size,
                          vips::VImage::option()->set("Q", options.thumbnail_quality)->set("strip", true));
    std::unique_ptr<void, decltype(&g_free)> webp_owner(webp, &g_free);

    if (Status written = write_file_atomically(preview, bytes_of(jpeg, jpeg_size), false); !written)
      return written.error();
    if (Status written = write_file_atomically(thumbnail, bytes_of(webp, webp_size), false); !written)
      return written.error();
    return Rendition{image.width(), image.height()};
  } catch (const vips::VError& e) {
    spdlog::debug("{}: {}", original.string(), vips_message(e));
    return unprocessable("cannot decode the image (truncated or corrupt data)");
  } catch (const std::exception& e) {
    return internal_error(fmt::format("cannot write previews: {}", e.what()));
  }
}

}  // namespace focal::library::detail
