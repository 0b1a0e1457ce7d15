// SPDX-License-Identifier: AGPL-3.0-or-later
// Schema, enum names and the read-side asset repository.
#include <fmt/format.h>

#include "library/library.h"
#include "library/library_schema.h"
#include "library/repository_detail.h"
#include "store/database.h"
#include "store/query.h"

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
  return store::exec(
      connection,
      fmt::format("INSERT INTO asset_job_status (asset_id, {0}) SELECT id, ? FROM asset WHERE id = ? "
                  "ON CONFLICT (asset_id) DO UPDATE SET {0} = excluded.{0}",
                  name),
      at_ms, asset_id);
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
  return store::query_one(
      conn, fmt::format("SELECT {} FROM asset WHERE {} = ? AND owner_id = ?", kAssetColumns, where),
      asset_from_row, value, owner_id);
}

Expected<std::optional<Asset>> find_asset(store::Connection& conn, std::int64_t id) {
  return store::query_one(conn, fmt::format("SELECT {} FROM asset WHERE id = ?", kAssetColumns),
                          asset_from_row, id);
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
    using store::column;
    using Text = std::optional<std::string>;
    using Integer = std::optional<int>;
    using Real = std::optional<double>;
    return store::query_one(
        conn,
        "SELECT make, model, lens_model, description, rating, orientation, latitude, longitude, "
        "date_time_original, time_zone, exif_image_width, exif_image_height, file_size FROM asset_exif "
        "WHERE asset_id = ?",
        [](const store::Statement& row) {
          Exif exif;
          exif.make = column<Text>(row, 0);
          exif.model = column<Text>(row, 1);
          exif.lens_model = column<Text>(row, 2);
          exif.description = column<Text>(row, 3);
          exif.rating = column<Integer>(row, 4);
          exif.orientation = column<Integer>(row, 5);
          exif.latitude = column<Real>(row, 6);
          exif.longitude = column<Real>(row, 7);
          exif.date_time_original = column<Text>(row, 8);
          exif.time_zone = column<Text>(row, 9);
          exif.exif_image_width = column<Integer>(row, 10);
          exif.exif_image_height = column<Integer>(row, 11);
          exif.file_size = row.int64(12);
          return exif;
        },
        asset_id);
  });
}

Expected<std::optional<std::filesystem::path>> AssetRepository::file(std::int64_t asset_id,
                                                                     AssetFileType type) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::optional<std::filesystem::path>> {
    auto path = store::query_one<std::string>(
        conn, "SELECT path FROM asset_file WHERE asset_id = ? AND type = ?", asset_id, to_string(type));
    if (!path) return std::move(path).error();
    if (!*path) return std::optional<std::filesystem::path>{};
    return std::optional<std::filesystem::path>{data_dir_ / **path};
  });
}

Expected<std::vector<std::int64_t>> AssetRepository::page_ids(std::int64_t after_id, int limit,
                                                              const AssetFilter& filter) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::vector<std::int64_t>> {
    return store::query<std::int64_t>(
        conn, fmt::format("SELECT id FROM asset WHERE id > ? AND {} ORDER BY id LIMIT ?", filter_sql(filter)),
        after_id, std::max(0, limit));
  });
}

Expected<std::int64_t> AssetRepository::count(const AssetFilter& filter) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::int64_t> {
    return store::query_value<std::int64_t>(
        conn, fmt::format("SELECT count(*) FROM asset WHERE {}", filter_sql(filter)));
  });
}

Expected<std::vector<TimeBucket>> AssetRepository::time_buckets(const AssetFilter& filter) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::vector<TimeBucket>> {
    // The first second of the UTC month. Real seconds so that instants before 1970 fall in their own month
    // (integer division truncates up).
    const char* month = conn.engine() == store::Engine::kSqlite
                            ? "CAST(strftime('%s', file_created_at / 1000.0, 'unixepoch', 'start of month') "
                              "AS INTEGER)"
                            : "CAST(extract(epoch FROM date_trunc('month', to_timestamp(file_created_at / "
                              "1000.0) AT TIME ZONE 'UTC')) AS BIGINT)";
    return store::query(
        conn,
        fmt::format("SELECT {} AS month, count(*) FROM asset WHERE {} GROUP BY month ORDER BY "
                    "month DESC",
                    month, filter_sql(filter)),
        [](const store::Statement& row) {
          return TimeBucket{row.int64(0) * 1000, row.int64(1)};
        });
  });
}

Expected<std::vector<Asset>> AssetRepository::created_between(const AssetFilter& filter, std::int64_t from_ms,
                                                              std::int64_t to_ms) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::vector<Asset>> {
    return store::query(
        conn,
        fmt::format("SELECT {} FROM asset WHERE {} AND file_created_at >= ? AND file_created_at < ? "
                    "ORDER BY file_created_at DESC, id DESC",
                    detail::kAssetColumns, filter_sql(filter)),
        detail::asset_from_row, from_ms, to_ms);
  });
}

Expected<std::vector<std::string>> AssetRepository::exif_values(
    ExifField field, const AssetFilter& filter, const std::optional<std::string>& make) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::vector<std::string>> {
    const char* column = field == ExifField::kMake ? "e.make" : "e.model";
    const std::string sql = fmt::format(
        "SELECT DISTINCT {0} FROM asset JOIN asset_exif e ON e.asset_id = asset.id WHERE {1} AND {0} IS NOT "
        "NULL "
        "AND trim({0}) != ''{2} ORDER BY {0}",
        column, filter_sql(filter), make ? " AND e.make = ?" : "");
    if (make) return store::query<std::string>(conn, sql, *make);
    return store::query<std::string>(conn, sql);
  });
}

Expected<std::vector<std::string>> AssetRepository::duplicate_paths(std::int64_t asset_id) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::vector<std::string>> {
    return store::query<std::string>(
        conn, "SELECT path FROM asset_duplicate_path WHERE asset_id = ? ORDER BY path", asset_id);
  });
}

Expected<std::vector<ImportIssue>> AssetRepository::import_issues(int limit) const {
  return db_.read([&](store::Connection& conn) -> Expected<std::vector<ImportIssue>> {
    return store::query(
        conn, "SELECT path, reason, seen_at FROM import_issue ORDER BY path LIMIT ?",
        [](const store::Statement& row) {
          return ImportIssue{row.text(0), row.text(1), row.int64(2)};
        },
        std::max(0, limit));
  });
}

}  // namespace focal::library
