// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ml_server/json_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

namespace focal {
namespace {

std::string f32(float v) {
  std::string s;
  append_float32(s, v);
  return s;
}

std::string f64(double v) {
  std::string s;
  append_float64(s, v);
  return s;
}

TEST(JsonFormat, Float32LikeOrjson) {
  EXPECT_EQ(f32(690.0F), "690.0");
  EXPECT_EQ(f32(-89.0F), "-89.0");
  EXPECT_EQ(f32(0.0F), "0.0");
  EXPECT_EQ(f32(-0.0F), "-0.0");
  EXPECT_EQ(f32(-0.013126737F), "-0.013126737");
  EXPECT_EQ(f32(0.83476543F), "0.83476543");
  EXPECT_EQ(f32(1e-5F), "1e-5");
  EXPECT_EQ(f32(0.0001F), "0.0001");
  EXPECT_EQ(f32(1.5e-7F), "1.5e-7");
  EXPECT_EQ(f32(100000.0F), "100000.0");
  EXPECT_EQ(f32(1e16F), "1e16");
  EXPECT_EQ(f32(0.1F), "0.1");  // float32 digits, not the double expansion 0.10000000149011612
  EXPECT_EQ(f64(0.1), "0.1");
  EXPECT_EQ(f64(0.98765), "0.98765");
}

TEST(JsonFormat, Float32RoundTripsExactly) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::uint32_t> bits;
  int checked = 0;
  while (checked < 200000) {
    const std::uint32_t b = bits(rng);
    float v = 0;
    std::memcpy(&v, &b, sizeof v);
    if (!std::isfinite(v)) continue;
    const auto s = f32(v);
    const float back = std::strtof(s.c_str(), nullptr);
    ASSERT_EQ(std::memcmp(&back, &v, sizeof v), 0) << s;
    ASSERT_EQ(s.find('+'), std::string::npos) << s;
    ++checked;
  }
}

TEST(JsonFormat, ArrayAndStrings) {
  const std::vector<float> v{0.5F, -1.0F, 2.25F};
  EXPECT_EQ(float32_array(v), "[0.5,-1.0,2.25]");
  EXPECT_EQ(float32_array({}), "[]");
  std::string s;
  append_json_string(s, "a\"b\\c\n\x01");
  EXPECT_EQ(s, R"("a\"b\\c\n\u0001")");
}

}  // namespace
}  // namespace focal
