// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal: AssetFilter → SQL over the library tables (asset `a`, asset_exif `e`), shared by smart and
// keyword search.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "search/search.h"
#include "store/database.h"

namespace focal::search::detail {

struct FilterSql {
  std::string where;  // " AND ..." clauses (empty when nothing restricts)
  std::vector<std::variant<std::int64_t, std::string>> params;
  // Binds params starting at `first`; returns the next free index.
  int bind(store::Statement& statement, int first) const;
};

// Visibility/deleted plus the column filters (not person ids or allowed ids, which are sets applied in C++).
FilterSql filter_sql(const AssetFilter& filter);

// True when the filter restricts more than owner and the default visibility/deleted exclusion.
bool has_column_filters(const AssetFilter& filter);

// True when the filter's owner has at most half of all assets: listing the owner's ids is then cheaper
// than listing everyone else's.
Expected<bool> owner_is_minority(store::Connection& connection, const AssetFilter& filter);

// The id set that passes filter_sql, or, for default filters, the ids excluded by owner/visibility/deleted
// (few, when the owner has most assets) so callers can filter with a cheap negative test.
Expected<std::unordered_set<std::int64_t>> matching_ids(store::Connection& connection,
                                                        const AssetFilter& filter);
Expected<std::unordered_set<std::int64_t>> excluded_ids(store::Connection& connection,
                                                        const AssetFilter& filter);

// Combines allowed ids, person ids (via the resolver) into one optional set; nullopt when neither is given.
Expected<std::optional<std::unordered_set<std::int64_t>>> restriction_set(const AssetFilter& filter,
                                                                          const FilterResolvers& resolvers);

}  // namespace focal::search::detail
