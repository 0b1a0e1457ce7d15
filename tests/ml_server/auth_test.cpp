// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ml_server/auth.h"

#include <gtest/gtest.h>

namespace focal {
namespace {

TEST(ApiKey, ConstantTimeEqualsIsEquality) {
  EXPECT_TRUE(constant_time_equals("s3cret", "s3cret"));
  EXPECT_FALSE(constant_time_equals("s3creT", "s3cret"));
  EXPECT_FALSE(constant_time_equals("s3cre", "s3cret"));
  EXPECT_FALSE(constant_time_equals("s3crett", "s3cret"));
  EXPECT_FALSE(constant_time_equals("", "s3cret"));
  EXPECT_FALSE(constant_time_equals(std::string("s3cret\0", 7), "s3cret"));
}

TEST(ApiKey, AcceptsEitherHeader) {
  EXPECT_TRUE(api_key_accepted("", "", ""));  // no key configured
  EXPECT_TRUE(api_key_accepted("k3y", "k3y", ""));
  EXPECT_TRUE(api_key_accepted("k3y", "", "Bearer k3y"));
  EXPECT_TRUE(api_key_accepted("k3y", "", "bearer  k3y "));
  EXPECT_TRUE(api_key_accepted("k3y", "wrong", "Bearer k3y"));
  EXPECT_FALSE(api_key_accepted("k3y", "", ""));
  EXPECT_FALSE(api_key_accepted("k3y", "K3Y", ""));
  EXPECT_FALSE(api_key_accepted("k3y", "", "Basic k3y"));
  EXPECT_FALSE(api_key_accepted("k3y", "", "Bearer"));
  EXPECT_FALSE(api_key_accepted("k3y", "", "Bearer k3"));
}

}  // namespace
}  // namespace focal
