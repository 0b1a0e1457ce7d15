// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal to src/server: JSON shapes shared by several route files.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "library/library.h"
#include "server/api.h"

namespace focal::server::detail {

// Immich-like AssetResponseDto (subset) with exifInfo when given.
nlohmann::json asset_json(const library::Asset& asset, const std::optional<library::Exif>& exif);

// The caller's asset: 404 "Asset N not found" when it does not exist or belongs to someone else (another
// user's ids are indistinguishable from unknown ones).
Expected<library::Asset> owned_asset(const library::AssetRepository& assets, std::int64_t id,
                                     const Caller& caller);

// MIME type of a library file_type ("jpeg" -> "image/jpeg").
std::string mime_type(std::string_view file_type);

}  // namespace focal::server::detail
