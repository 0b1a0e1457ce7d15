// SPDX-License-Identifier: AGPL-3.0-or-later
// Schema, enum names and the read-side asset repository.
#include <fmt/format.h>

#include "library/library.h"
#include "library/library_schema.h"
#include "library/repository_detail.h"
#include "store/database.h"

namespace focal::library {

Status migrate(store::Database& db) { return db.migrate("library", detail::kMigrations); }

std::string_view to_string(AssetType type) {
  switch (type) {
    case AssetType::kImage:
      return "IMAGE";
    case AssetType::kVideo:
      return "VIDEO";
    case AssetType::kOther:
      return "OTHER";
  }
  return "OTHER";
}

std::string_view to_string(AssetStatus status) {
  switch (status) {
    case AssetStatus::kPending:
      return "pending";
    case AssetStatus::kReady:
      return "ready";
    case AssetStatus::kCorrupt:
      return "corrupt";
    case AssetStatus::kUnsupported:
      return "unsupported";
    case AssetStatus::kOffline:
      return "offline";
  }
  return "pending";
}

std::string_view to_string(Visibility visibility) {
  switch (visibility) {
    case Visibility::kTimeline:
      return "timeline";
    case Visibility::kArchive:
      return "archive";
    case Visibility::kHidden:
      return "hidden";
    case Visibility::kLocked:
      return "locked";
  }
  return "timeline";
}

std::optional<Visibility> parse_visibility(std::string_view text) {
  for (auto v : {Visibility::kTimeline, Visibility::kArchive, Visibility::kHidden, Visibility::kLocked}) {
    if (to_string(v) == text) return v;
  }
  return std::nullopt;
}

std::string_view to_string(AssetFileType type) {
  return type == AssetFileType::kPreview ? "preview" : "thumbnail";
}

Status LibraryOptions::validate() const {
  if (data_dir.empty()) return bad_request("library: data_dir must be set");
  if (preview_size < 16 || preview_size > 16384)
    return bad_request("library: preview_size must be 16..16384");
  if (thumbnail_size < 16 || thumbnail_size > preview_size) {
    return bad_request("library: thumbnail_size must be 16..preview_size");
  }
  if (preview_quality < 1 || preview_quality > 100 || thumbnail_quality < 1 || thumbnail_quality > 100) {
    return bad_request("library: qualities must be 1..100");
  }
  if (max_pixels == 0) return bad_request("library: max_pixels must be positive");
  return {};
}

Status set_job_status(store::Connection& connection, std::int64_t asset_id, JobStatusColumn column,
                      std::optional<std::int64_t> at_ms) {
  const char* name = column == JobStatusColumn::kFacesRecognized      ? "faces_recognized_at"
                     : column == JobStatusColumn::kDuplicatesDetected ? "duplicates_detected_at"
                                                                      : "ocr_at";
  auto stmt = connection.prepare(
      fmt::format("INSERT INTO asset_job_status (asset_id, {0}) SELECT id, ? FROM asset WHERE id = ? "
                  "ON CONFLICT (asset_id) DO UPDATE SET {0} = excluded.{0}",
                  name));
  if (!stmt) return stmt.error();
  if (at_ms) {
    stmt->bind(1, *at_ms);
  } else {
    stmt->bind(1, nullptr);
  }
  stmt->bind(2, asset_id);
  return stmt->run();
}

namespace detail {

const char* const kAssetColumns =
    "id, library_id, type, status, status_reason, visibility, original_path, original_file_name, checksum, "
    "file_type, file_size, width, height, file_created_at, file_modified_at, created_at, deleted_at, "
    "owner_id, "
    "is_favorite";

Asset asset_from_row(const store::Statement& row) {
  Asset asset;
  asset.id = row.int64(0);
  if (!row.is_null(1)) asset.library_id = row.int64(1);
  const std::string type = row.text(2);
  asset.type = type == "IMAGE" ? AssetType::kImage : type == "VIDEO" ? AssetType::kVideo : AssetType::kOther;
  const std::string status = row.text(3);
  for (auto s : {AssetStatus::kPending, AssetStatus::kReady, AssetStatus::kCorrupt, AssetStatus::kUnsupported,
                 AssetStatus::kOffline}) {
    if (to_string(s) == status) asset.status = s;
  }
  asset.status_reason = row.text(4);
  asset.visibility = parse_visibility(row.text(5)).value_or(Visibility::kTimeline);
  asset.original_path = row.text(6);
  asset.original_file_name = row.text(7);
  asset.checksum = row.text(8);
  asset.file_type = row.text(9);
  asset.file_size = row.int64(10);
  asset.width = static_cast<int>(row.int64(11));
  asset.height = static_cast<int>(row.int64(12));
  asset.file_created_at_ms = row.int64(13);
  asset.file_modified_at_ms = row.int64(14);
  asset.created_at_ms = row.int64(15);
  if (!row.is_null(16)) asset.deleted_at_ms = row.int64(16);
  asset.owner_id = row.int64(17);
  asset.is_favorite = row.int64(18) != 0;
  return asset;
}

Expected<std::optional<Asset>> find_asset(store::Connection& conn, std::string_view where,
                                          std::string_view value, std::int64_t owner_id) {
  auto stmt =
      conn.prepare(fmt::format("SELECT {} FROM asset WHERE {} = ? AND owner_id = ?", kAssetColumns, where));
  if (!stmt) return stmt.error();
  stmt->bind(1, value).bind(2, owner_id);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<Asset>{};
  return std::optional<Asset>{asset_from_row(*stmt)};
}

Expected<std::optional<Asset>> find_asset(store::Connection& conn, std::int64_t id) {
  auto stmt = conn.prepare(fmt::format("SELECT {} FROM asset WHERE id = ?", kAssetColumns));
  if (!stmt) return stmt.error();
  stmt->bind(1, id);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<Asset>{};
  return std::optional<Asset>{asset_from_row(*stmt)};
}

}  // namespace detail

namespace {

std::string filter_sql(const AssetFilter& filter) {
  std::string where = "1 = 1";
  if (filter.owner_id) where += fmt::format(" AND owner_id = {}", *filter.owner_id);
  if (!filter.include_hidden) where += " AND visibility != 'hidden'";
  if (!filter.include_deleted) where += " AND deleted_at IS NULL";
  if (filter.require_preview) {
    where += " AND EXISTS (SELECT 1 FROM asset_file f WHERE f.asset_id = asset.id AND f.type = 'preview')";
  }
  if (filter.status) where += fmt::format(" AND status = '{}'", to_string(*filter.status));
  if (filter.visibility) where += fmt::format(" AND visibility = '{}'", to_string(*filter.visibility));
  return where;
}

}  // namespace

AssetRepository::AssetRepository(store::Database& db, std::filesystem::path data_dir)
    : db_(db), data_dir_(std::move(data_dir)) {}

Expected<std::optional<Asset>> AssetRepository::get(std::int64_t asset_id) const {
  return db_.read([&](store::Connection& conn) { return detail::find_asset(conn, asset_id); });
}

Expected<std::optional<Exif>> AssetRepository::exif(std::int64_t asset_id) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::optional<Exif>> {
    auto stmt = conn.prepare(
        "SELECT make, model, lens_model, description, rating, orientation, latitude, longitude, "
        "date_time_original, time_zone, exif_image_width, exif_image_height, file_size FROM asset_exif "
        "WHERE asset_id = ?");
    if (!stmt) return stmt.error();
    stmt->bind(1, asset_id);
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return std::optional<Exif>{};
    auto text = [&](int c) {
      return stmt->is_null(c) ? std::nullopt : std::optional<std::string>(stmt->text(c));
    };
    auto integer = [&](int c) {
      return stmt->is_null(c) ? std::nullopt : std::optional<int>(static_cast<int>(stmt->int64(c)));
    };
    auto real = [&](int c) { return stmt->is_null(c) ? std::nullopt : std::optional<double>(stmt->real(c)); };
    Exif exif;
    exif.make = text(0);
    exif.model = text(1);
    exif.lens_model = text(2);
    exif.description = text(3);
    exif.rating = integer(4);
    exif.orientation = integer(5);
    exif.latitude = real(6);
    exif.longitude = real(7);
    exif.date_time_original = text(8);
    exif.time_zone = text(9);
    exif.exif_image_width = integer(10);
    exif.exif_image_height = integer(11);
    exif.file_size = stmt->int64(12);
    return std::optional<Exif>{std::move(exif)};
  });
}

Expected<std::optional<std::filesystem::path>> AssetRepository::file(std::int64_t asset_id,
                                                                     AssetFileType type) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::optional<std::filesystem::path>> {
    auto stmt = conn.prepare("SELECT path FROM asset_file WHERE asset_id = ? AND type = ?");
    if (!stmt) return stmt.error();
    stmt->bind(1, asset_id).bind(2, to_string(type));
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return std::optional<std::filesystem::path>{};
    return std::optional<std::filesystem::path>{data_dir_ / stmt->text(0)};
  });
}

Expected<std::vector<std::int64_t>> AssetRepository::page_ids(std::int64_t after_id, int limit,
                                                              const AssetFilter& filter) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::vector<std::int64_t>> {
    auto stmt = conn.prepare(
        fmt::format("SELECT id FROM asset WHERE id > ? AND {} ORDER BY id LIMIT ?", filter_sql(filter)));
    if (!stmt) return stmt.error();
    stmt->bind(1, after_id).bind(2, std::max(0, limit));
    std::vector<std::int64_t> ids;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      ids.push_back(stmt->int64(0));
    }
    return ids;
  });
}

Expected<std::int64_t> AssetRepository::count(const AssetFilter& filter) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::int64_t> {
    auto stmt = conn.prepare(fmt::format("SELECT count(*) FROM asset WHERE {}", filter_sql(filter)));
    if (!stmt) return stmt.error();
    auto row = stmt->step();
    if (!row) return row.error();
    return stmt->int64(0);
  });
}

Expected<std::vector<TimeBucket>> AssetRepository::time_buckets(const AssetFilter& filter) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::vector<TimeBucket>> {
    // Real seconds so that instants before 1970 fall in their own month (integer division truncates up).
    auto stmt = conn.prepare(fmt::format(
        "SELECT CAST(strftime('%s', file_created_at / 1000.0, 'unixepoch', 'start of month') AS INTEGER) AS "
        "month, count(*) FROM asset WHERE {} GROUP BY month ORDER BY month DESC",
        filter_sql(filter)));
    if (!stmt) return stmt.error();
    std::vector<TimeBucket> buckets;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      buckets.push_back({stmt->int64(0) * 1000, stmt->int64(1)});
    }
    return buckets;
  });
}

Expected<std::vector<Asset>> AssetRepository::created_between(const AssetFilter& filter, std::int64_t from_ms,
                                                              std::int64_t to_ms) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::vector<Asset>> {
    auto stmt = conn.prepare(
        fmt::format("SELECT {} FROM asset WHERE {} AND file_created_at >= ? AND file_created_at < ? "
                    "ORDER BY file_created_at DESC, id DESC",
                    detail::kAssetColumns, filter_sql(filter)));
    if (!stmt) return stmt.error();
    stmt->bind(1, from_ms).bind(2, to_ms);
    std::vector<Asset> assets;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      assets.push_back(detail::asset_from_row(*stmt));
    }
    return assets;
  });
}

Expected<std::vector<std::string>> AssetRepository::exif_values(
    ExifField field, const AssetFilter& filter, const std::optional<std::string>& make) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::vector<std::string>> {
    const char* column = field == ExifField::kMake ? "e.make" : "e.model";
    auto stmt =
        conn.prepare(fmt::format("SELECT DISTINCT {0} FROM asset JOIN asset_exif e ON e.asset_id = asset.id "
                                 "WHERE {1} AND {0} IS NOT NULL "
                                 "AND trim({0}) != ''{2} ORDER BY {0}",
                                 column, filter_sql(filter), make ? " AND e.make = ?" : ""));
    if (!stmt) return stmt.error();
    if (make) stmt->bind(1, *make);
    std::vector<std::string> values;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      values.push_back(stmt->text(0));
    }
    return values;
  });
}

Expected<std::vector<std::string>> AssetRepository::duplicate_paths(std::int64_t asset_id) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::vector<std::string>> {
    auto stmt = conn.prepare("SELECT path FROM asset_duplicate_path WHERE asset_id = ? ORDER BY path");
    if (!stmt) return stmt.error();
    stmt->bind(1, asset_id);
    std::vector<std::string> paths;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      paths.push_back(stmt->text(0));
    }
    return paths;
  });
}

Expected<std::vector<ImportIssue>> AssetRepository::import_issues(int limit) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::vector<ImportIssue>> {
    auto stmt = conn.prepare("SELECT path, reason, seen_at FROM import_issue ORDER BY path LIMIT ?");
    if (!stmt) return stmt.error();
    stmt->bind(1, std::max(0, limit));
    std::vector<ImportIssue> issues;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      issues.push_back({stmt->text(0), stmt->text(1), stmt->int64(2)});
    }
    return issues;
  });
}

}  // namespace focal::library
