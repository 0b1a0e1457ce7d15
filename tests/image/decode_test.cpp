// SPDX-License-Identifier: AGPL-3.0-or-later
// Decoding of the shared real photos: every supported container, hostile inputs, limits.
#include "image/decode.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace focal {
namespace {

const std::filesystem::path kPhotos = std::filesystem::path(FOCAL_TESTDATA) / "photos";
const std::filesystem::path kBroken = std::filesystem::path(FOCAL_TESTDATA) / "broken";

std::vector<std::uint8_t> read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct PhotoCase {
  const char* file;
  ImageFormat format;
  int width;
  int height;
};

void PrintTo(const PhotoCase& c, std::ostream* os) { *os << c.file; }

class DecodePhoto : public ::testing::TestWithParam<PhotoCase> {};

// Sizes as Pillow reports them (no EXIF rotation).
TEST_P(DecodePhoto, DecodesToRgbWithPillowsSize) {
  const auto& c = GetParam();
  const auto bytes = read(kPhotos / c.file);
  ASSERT_FALSE(bytes.empty()) << c.file;
  EXPECT_EQ(sniff_image_format(bytes), c.format);
  const auto image = decode_rgb(bytes, DecodeLimits{});
  ASSERT_TRUE(image.ok()) << c.file << ": " << image.error().message;
  EXPECT_EQ(image->width, c.width);
  EXPECT_EQ(image->height, c.height);
  EXPECT_EQ(image->pixels.size(), static_cast<std::size_t>(c.width) * c.height * 3);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, DecodePhoto,
    ::testing::Values(PhotoCase{"food-cake.jpg", ImageFormat::kJpeg, 720, 540},
                      PhotoCase{"exif-face-portrait-orientation-6.jpg", ImageFormat::kJpeg, 700, 840},
                      PhotoCase{"format-32bit-rgba.png", ImageFormat::kPng, 626, 1200},
                      PhotoCase{"format-alpha-channel.png", ImageFormat::kPng, 640, 480},
                      PhotoCase{"format-animated-cat.gif", ImageFormat::kGif, 314, 400},
                      PhotoCase{"format-example-lake.gif", ImageFormat::kGif, 100, 67},
                      PhotoCase{"format-arbitro.tiff", ImageFormat::kTiff, 174, 38},
                      PhotoCase{"format-example-lake.tif", ImageFormat::kTiff, 100, 67},
                      PhotoCase{"format-denali.webp", ImageFormat::kWebp, 600, 315},
                      PhotoCase{"format-example-lake.bmp", ImageFormat::kBmp, 100, 67},
                      PhotoCase{"format-jpeg-named-heic.heic", ImageFormat::kJpeg, 500, 500},
                      PhotoCase{"format-jpeg-named-png.png", ImageFormat::kJpeg, 240, 180}));

TEST(Decode, HeifAndAvif) {
  for (const char* file : {"format-iphone.heic", "format-8bit-srgb.avif"}) {
    const auto bytes = read(kPhotos / file);
    EXPECT_EQ(sniff_image_format(bytes), ImageFormat::kHeif) << file;
    const auto image = decode_rgb(bytes, DecodeLimits{});
    ASSERT_TRUE(image.ok()) << file << ": " << image.error().message;
    EXPECT_GT(image->width, 0);
  }
}

TEST(Decode, BrokenFilesAreErrors) {
  for (const char* file : {"truncated-jpeg.jpg", "truncated-png.png", "broken-80-bytes.png",
                           "truncated-flamingos.jpg", "broken-data-stream.png"}) {
    const auto image = decode_rgb(read(kBroken / file), DecodeLimits{});
    ASSERT_FALSE(image.ok()) << file;
    const int status = http_status(image.error().kind);
    EXPECT_TRUE(status == 400 || status == 422) << file << " -> " << status;
  }
}

TEST(Decode, GarbageAndEmpty) {
  const std::vector<std::uint8_t> garbage{'h', 'e', 'l', 'l', 'o'};
  EXPECT_EQ(http_status(decode_rgb(garbage, {}).error().kind), 422);
  EXPECT_EQ(http_status(decode_rgb({}, {}).error().kind), 422);
  // A JPEG signature followed by nothing useful.
  const std::vector<std::uint8_t> header_only{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02};
  EXPECT_EQ(http_status(decode_rgb(header_only, {}).error().kind), 422);
}

TEST(Decode, PixelLimitIsCheckedBeforeDecoding) {
  const auto bytes = read(kPhotos / "food-cake.jpg");
  const auto image = decode_rgb(bytes, DecodeLimits{1000});
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(http_status(image.error().kind), 413);
}

TEST(Decode, ZeroSizedPngHeaderIs422) {
  auto bytes = read(kPhotos / "format-alpha-channel.png");
  ASSERT_GT(bytes.size(), 24U);
  bytes[16] = bytes[17] = bytes[18] = bytes[19] = 0;  // width 0 (CRC now wrong: the header check comes first)
  const auto image = decode_rgb(bytes, DecodeLimits{});
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(http_status(image.error().kind), 422);
  EXPECT_NE(image.error().message.find("zero"), std::string::npos);
}

}  // namespace
}  // namespace focal
