// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal: row mapping shared by the repository and the service.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "library/library.h"
#include "store/database.h"

namespace focal::library::detail {

extern const char* const kAssetColumns;  // the columns asset_from_row reads, in order
Asset asset_from_row(const store::Statement& row);
Expected<std::optional<Asset>> find_asset(store::Connection& conn, std::int64_t id);
// The owner's asset whose `where` column equals `value`; `where` is a trusted column name (original_path,
// checksum).
Expected<std::optional<Asset>> find_asset(store::Connection& conn, std::string_view where,
                                          std::string_view value, std::int64_t owner_id);

}  // namespace focal::library::detail
