// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal: smart search's saved HNSW index files. A file is reused only when it reflects exactly the rows in
// the store: it records the (asset_id, version) pair of every smart_search row of its model, and each insert
// or update gives a row a new random version.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "search/vector_index.h"
#include "store/database.h"

namespace focal::search::detail {

// (asset_id, version) of the rows of one model, by asset id: the fingerprint of a saved index.
using RowVersions = std::vector<std::pair<std::int64_t, std::int64_t>>;

// The rows of `model` with `dim` values, by asset id.
Expected<RowVersions> read_versions(store::Connection& connection, const std::string& model,
                                    std::int64_t dim);

// `<dir>/smart-search-<model>.hnsw` (characters other than letters, digits, '-', '_' and '.' become '_');
// none when `dir` is empty (no saved indexes).
std::optional<std::filesystem::path> saved_index_file(const std::filesystem::path& dir,
                                                      const std::string& model);

// The saved index of `model` in `file` when it holds exactly `rows`; nullopt, with the reason logged, when
// there is none or it is damaged or stale.
std::optional<std::unique_ptr<VectorIndex>> read_saved_index(const std::filesystem::path& file,
                                                             const std::string& model,
                                                             const IndexOptions& index_options,
                                                             const RowVersions& rows);

// Saves `index` (HNSW) as the index of `model` holding `rows`.
Status write_saved_index(const VectorIndex& index, const std::filesystem::path& file,
                         const std::string& model, const RowVersions& rows);

double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace focal::search::detail
