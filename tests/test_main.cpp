// SPDX-License-Identifier: AGPL-3.0-or-later
// Shared test main: libvips must be initialised once per process before any decode.
#include <gtest/gtest.h>

#include "image/decode.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!focal::init_image_decoding(argv[0])) return 1;
  return RUN_ALL_TESTS();
}
