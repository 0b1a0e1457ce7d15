// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal: writing a person thumbnail with libvips.
#pragma once

#include <filesystem>

#include "core/error.h"
#include "people/people.h"

namespace focal::people {

// Crops `source` (decoded with EXIF orientation) around `box` (in box_width x box_height pixels) as Immich
// does and writes a size x size JPEG to `destination` (written to a temporary name, then renamed).
Status write_person_thumbnail(const std::filesystem::path& source, const Box& box, int box_width,
                              int box_height, const std::filesystem::path& destination, int size,
                              int quality);

}  // namespace focal::people
