// SPDX-License-Identifier: AGPL-3.0-or-later
#include "search/saved_index.h"

#include <cctype>
#include <cstring>

#include "core/logging.h"
#include "store/query.h"

namespace focal::search::detail {
namespace {

std::string encode_versions(const RowVersions& rows) {
  std::string out(sizeof(std::uint64_t) + rows.size() * 2 * sizeof(std::int64_t), '\0');
  const std::uint64_t count = rows.size();
  std::memcpy(out.data(), &count, sizeof(count));
  char* at = out.data() + sizeof(count);
  for (const auto& [id, version] : rows) {
    std::memcpy(at, &id, sizeof(id));
    std::memcpy(at + sizeof(id), &version, sizeof(version));
    at += sizeof(id) + sizeof(version);
  }
  return out;
}

std::optional<RowVersions> decode_versions(const std::string& bytes) {
  std::uint64_t count = 0;
  if (bytes.size() < sizeof(count)) return std::nullopt;
  std::memcpy(&count, bytes.data(), sizeof(count));
  if ((bytes.size() - sizeof(count)) / (2 * sizeof(std::int64_t)) != count ||
      (bytes.size() - sizeof(count)) % (2 * sizeof(std::int64_t)) != 0)
    return std::nullopt;
  RowVersions rows(static_cast<std::size_t>(count));
  const char* at = bytes.data() + sizeof(count);
  for (auto& [id, version] : rows) {
    std::memcpy(&id, at, sizeof(id));
    std::memcpy(&version, at + sizeof(id), sizeof(version));
    at += sizeof(id) + sizeof(version);
  }
  return rows;
}

}  // namespace

Expected<RowVersions> read_versions(store::Connection& connection, const std::string& model,
                                    std::int64_t dim) {
  return store::query(
      connection,
      "SELECT asset_id, version FROM smart_search WHERE model = ?1 AND dim = ?2 ORDER BY asset_id",
      [](const store::Statement& row) {
        return std::pair{row.int64(0), row.int64(1)};
      },
      model, dim);
}

std::optional<std::filesystem::path> saved_index_file(const std::filesystem::path& dir,
                                                      const std::string& model) {
  if (dir.empty()) return std::nullopt;
  std::string name;
  for (const char c : model)
    name += (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.') ? c : '_';
  return dir / ("smart-search-" + name + ".hnsw");
}

std::optional<std::unique_ptr<VectorIndex>> read_saved_index(const std::filesystem::path& file,
                                                             const std::string& model,
                                                             const IndexOptions& index_options,
                                                             const RowVersions& rows) {
  const auto start = std::chrono::steady_clock::now();
  auto loaded = load_index(file, index_options);
  if (!loaded) {
    if (loaded.error().kind == ErrorKind::kNotFound)
      spdlog::info("Smart search: no saved index at {}; building it", file.string());
    else
      spdlog::warn("Smart search: cannot use the saved index, rebuilding it: {}", loaded.error().message);
    return std::nullopt;
  }
  if (loaded->meta.model != model) {
    spdlog::warn("Smart search: {} holds embeddings of {}, not {}; rebuilding it", file.string(),
                 loaded->meta.model, model);
    return std::nullopt;
  }
  if (decode_versions(loaded->meta.fingerprint) != rows) {
    spdlog::info("Smart search: {} is older than the stored embeddings of {}; rebuilding it", file.string(),
                 model);
    return std::nullopt;
  }
  spdlog::info("Smart search: read {} embeddings of {} from {} in {:.2f} s", rows.size(), model,
               file.string(), seconds_since(start));
  return std::move(loaded->index);
}

Status write_saved_index(const VectorIndex& index, const std::filesystem::path& file,
                         const std::string& model, const RowVersions& rows) {
  const auto start = std::chrono::steady_clock::now();
  if (Status saved = save_index(index, file, {model, encode_versions(rows)}); !saved) return saved;
  spdlog::info("Smart search: saved the index of {} ({} embeddings) to {} in {:.2f} s", model, rows.size(),
               file.string(), seconds_since(start));
  return {};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace focal::search::detail
