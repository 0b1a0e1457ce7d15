// SPDX-License-Identifier: AGPL-3.0-or-later
// The photo library: library folders, assets (content-deduplicated), EXIF, previews and thumbnails.
//
// Import = scan a folder recursively; each new file is hashed (SHA-256) and becomes an asset row (a file
// whose content is already known is recorded as a duplicate path, not imported twice), then
// AssetExtractMetadata{id, source:"upload"} is queued. Immich's job chain (storage template step omitted):
// AssetExtractMetadata → AssetGenerateThumbnails → SmartSearch + AssetDetectFaces (source upload, or notify).
// Previews (longest side ≤ 1440, JPEG, EXIF orientation applied) are what focal-ml sees; thumbnails are for
// the UI. Corrupt or unsupported files never abort an import: they are recorded with a reason.
//
// Tables (component "library") are documented in library_schema.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace focal::store {
class Connection;
class Database;
}  // namespace focal::store
namespace focal::jobs {
class JobQueue;
}

namespace focal::library {

// Migrations of component "library".
Status migrate(store::Database& db);

struct LibraryOptions {
  std::filesystem::path data_dir;  // previews/thumbnails live under <data_dir>/thumbs, uploads under /upload
  int preview_size = 1440;         // longest side; never upscaled
  int preview_quality = 85;        // JPEG
  int thumbnail_size = 250;        // longest side; WebP
  int thumbnail_quality = 80;
  std::uint64_t max_pixels = 268'402'689;  // refuse larger images (decompression bombs); ~16384²
  std::chrono::milliseconds watch_debounce{
      1'000};  // a file must be quiet this long before the watcher imports it
  Status validate() const;
};

enum class AssetType { kImage, kVideo, kOther };
std::string_view to_string(AssetType type);  // "IMAGE", "VIDEO", "OTHER" (Immich's values)

// Processing state of an asset's file.
enum class AssetStatus {
  kPending,      // imported, metadata not extracted yet
  kReady,        // metadata extracted (previews may still be pending: see preview_path)
  kCorrupt,      // the file could not be decoded; status_reason says why
  kUnsupported,  // a format focal cannot decode (e.g. video); status_reason says which
  kOffline,      // the original file disappeared
};
std::string_view to_string(AssetStatus status);

// Immich's visibility values; focal's import creates `timeline` assets.
enum class Visibility { kTimeline, kArchive, kHidden, kLocked };
std::string_view to_string(Visibility visibility);
std::optional<Visibility> parse_visibility(std::string_view text);

struct Exif {
  std::optional<std::string> make;
  std::optional<std::string> model;
  std::optional<std::string> lens_model;
  std::optional<std::string> description;
  std::optional<int> rating;       // -1..5
  std::optional<int> orientation;  // EXIF 1..8
  std::optional<double> latitude;
  std::optional<double> longitude;
  // DateTimeOriginal (or CreateDate/DateTime) as written: "YYYY-MM-DDTHH:MM:SS[.sss]", local time of the
  // camera.
  std::optional<std::string> date_time_original;
  std::optional<std::string> time_zone;  // "+02:00" when the file records an offset
  std::optional<int> exif_image_width;   // pixel size as stored (before orientation)
  std::optional<int> exif_image_height;
  std::int64_t file_size = 0;
};

struct Asset {
  std::int64_t id = 0;
  std::int64_t owner_id = 0;               // the user it belongs to
  std::optional<std::int64_t> library_id;  // none for uploads
  AssetType type = AssetType::kImage;
  AssetStatus status = AssetStatus::kPending;
  std::string status_reason;
  Visibility visibility = Visibility::kTimeline;
  std::string original_path;       // absolute
  std::string original_file_name;  // the name as uploaded/found
  std::string checksum;            // lowercase hex SHA-256 of the content
  std::string file_type;           // "jpeg", "png", "webp", "heif", "tiff", "gif", "bmp", or "" when unknown
  std::int64_t file_size = 0;
  int width = 0;  // displayed size (after EXIF orientation); 0 until metadata is extracted
  int height = 0;
  std::int64_t file_created_at_ms =
      0;  // date taken when known (UTC when an offset is known), else file mtime
  std::int64_t file_modified_at_ms = 0;  // file mtime
  std::int64_t created_at_ms = 0;        // import time
  std::optional<std::int64_t> deleted_at_ms;
  bool is_favorite = false;
};

enum class AssetFileType { kPreview, kThumbnail };
std::string_view to_string(AssetFileType type);  // "preview", "thumbnail"

struct AssetFilter {
  std::optional<std::int64_t> owner_id;  // only this user's assets (every user-facing listing sets it)
  bool include_hidden = false;           // visibility hidden (Immich skips them for ML)
  bool include_deleted = false;
  bool require_preview = false;  // only assets that have a preview file
  std::optional<AssetStatus> status;
  std::optional<Visibility> visibility;  // only this visibility (the timeline: kTimeline)
};

// One calendar month (UTC) of the timeline.
struct TimeBucket {
  std::int64_t start_ms = 0;  // the month's first instant (UTC)
  std::int64_t count = 0;
};

// EXIF fields offered as search suggestions.
enum class ExifField { kMake, kModel };

struct Library {
  std::int64_t id = 0;
  std::int64_t owner_id = 0;  // its assets belong to this user
  std::string path;           // absolute, canonical
  std::int64_t created_at_ms = 0;
  std::optional<std::int64_t> last_scanned_at_ms;
};

struct ScanReport {
  std::int64_t files_seen = 0;
  std::int64_t imported = 0;     // new assets
  std::int64_t duplicates = 0;   // content already known (path recorded)
  std::int64_t unchanged = 0;    // already imported, same size and mtime
  std::int64_t unsupported = 0;  // not an image focal decodes (recorded in import_issue)
  std::int64_t errors = 0;       // unreadable files (recorded in import_issue)
  std::vector<std::int64_t> new_asset_ids;
};

// An import problem that did not produce an asset (unsupported type, unreadable file).
struct ImportIssue {
  std::string path;
  std::string reason;
  std::int64_t seen_at_ms = 0;
};

struct UploadResult {
  Asset asset;
  bool duplicate = false;  // the content was already in the library: `asset` is the existing one
};

// asset_job_status columns other components maintain (Immich's per-asset "done" markers).
enum class JobStatusColumn { kFacesRecognized, kDuplicatesDetected, kOcr };
// Upserts asset_job_status.<column> = at_ms (nullopt clears it) inside the caller's write transaction
// (db.write), so the component's data and the marker commit together.
Status set_job_status(store::Connection& connection, std::int64_t asset_id, JobStatusColumn column,
                      std::optional<std::int64_t> at_ms);

// Read access for every component (ML handlers, search filters, routes). Thread-safe.
class AssetRepository {
 public:
  explicit AssetRepository(store::Database& db, std::filesystem::path data_dir);

  Expected<std::optional<Asset>> get(std::int64_t asset_id) const;
  Expected<std::optional<Exif>> exif(std::int64_t asset_id) const;
  // The stored file of that type (absolute path), or nullopt when not generated (yet).
  Expected<std::optional<std::filesystem::path>> file(std::int64_t asset_id, AssetFileType type) const;
  Expected<std::optional<std::filesystem::path>> preview_path(std::int64_t asset_id) const {
    return file(asset_id, AssetFileType::kPreview);
  }
  // Ids greater than `after_id` matching `filter`, ascending, at most `limit` (QueueAll scans page with the
  // last id: Immich's JOBS_ASSET_PAGINATION_SIZE is 1000).
  Expected<std::vector<std::int64_t>> page_ids(std::int64_t after_id, int limit,
                                               const AssetFilter& filter) const;
  Expected<std::int64_t> count(const AssetFilter& filter) const;
  // Assets matching `filter` grouped by the UTC calendar month of file_created_at, newest month first (one
  // GROUP BY over the owner + file_created_at index).
  Expected<std::vector<TimeBucket>> time_buckets(const AssetFilter& filter) const;
  // Assets matching `filter` with from_ms <= file_created_at < to_ms, newest first (ties: higher id first).
  Expected<std::vector<Asset>> created_between(const AssetFilter& filter, std::int64_t from_ms,
                                               std::int64_t to_ms) const;
  // The distinct non-empty values of an EXIF field over the assets matching `filter`, sorted; `make` keeps
  // only assets of that camera make.
  Expected<std::vector<std::string>> exif_values(ExifField field, const AssetFilter& filter,
                                                 const std::optional<std::string>& make) const;
  // Other paths whose content equals this asset's (recorded at import).
  Expected<std::vector<std::string>> duplicate_paths(std::int64_t asset_id) const;
  Expected<std::vector<ImportIssue>> import_issues(int limit = 1000) const;

 private:
  store::Database& db_;
  std::filesystem::path data_dir_;
};

// Import, upload, metadata/preview generation and the folder watcher. Thread-safe.
class LibraryService {
 public:
  // `db` must be migrated (library::migrate, jobs::migrate); `db` and `queue` outlive the service. Registers
  // the AssetExtractMetadata/AssetGenerateThumbnails(+QueueAll) handlers and the upload job chain on `queue`.
  static Expected<std::unique_ptr<LibraryService>> create(store::Database& db, jobs::JobQueue& queue,
                                                          LibraryOptions options);
  ~LibraryService();  // stops the watcher
  LibraryService(const LibraryService&) = delete;
  LibraryService& operator=(const LibraryService&) = delete;

  const AssetRepository& assets() const;
  const LibraryOptions& options() const;

  // Adds a library folder owned by `owner_id` (idempotent for the same canonical path and owner; 409 when
  // the folder is another user's library). kBadRequest when not a readable directory.
  Expected<Library> add_library(const std::filesystem::path& folder, std::int64_t owner_id);
  Expected<std::vector<Library>> libraries() const;
  Status remove_library(std::int64_t library_id);  // forgets the folder; its assets stay

  // Scans one library folder recursively (new and changed files; missing files become offline). Its assets
  // belong to the library's owner.
  Expected<ScanReport> scan(std::int64_t library_id);
  // add_library + scan (focal import PATH).
  Expected<ScanReport> import_folder(const std::filesystem::path& folder, std::int64_t owner_id);
  // Imports one file of a library (used by the watcher); the report counts that file only.
  Expected<ScanReport> import_file(const std::filesystem::path& file, std::int64_t library_id);

  // Stores uploaded bytes under <data_dir>/upload/<owner> and imports them for `owner_id`
  // (AssetExtractMetadata{source:"upload"}). kBadRequest for an empty body or a file name with path
  // separators; an unsupported format is kBadRequest "Unsupported file type".
  Expected<UploadResult> upload(std::span<const std::uint8_t> bytes, std::string_view file_name,
                                std::int64_t owner_id);

  Status set_visibility(std::int64_t asset_id, Visibility visibility);
  Status set_favorite(std::int64_t asset_id, bool favorite);
  // The user's description / rating (-1..5; nullopt clears it), kept in asset_exif.
  Status set_description(std::int64_t asset_id, std::string_view description);
  Status set_rating(std::int64_t asset_id, std::optional<int> rating);
  Status soft_delete(std::int64_t asset_id);  // sets deleted_at

  // Gives libraries and assets without an owner (databases from before ownership) to `owner_id`; returns
  // how many assets changed hands.
  Expected<std::int64_t> adopt_unowned(std::int64_t owner_id);
  // Whether any library or asset has no owner yet.
  Expected<bool> has_unowned() const;

  // Job bodies (also run directly by the handlers registered in create()); idempotent.
  Expected<bool> extract_metadata(std::int64_t asset_id);     // false: file corrupt/unsupported (recorded)
  Expected<bool> generate_thumbnails(std::int64_t asset_id);  // false: file corrupt (recorded)

  // inotify watcher on every library folder (recursive, new sub-folders included): closed/moved-in files are
  // imported after `watch_debounce`. Idempotent.
  Status start_watching();
  void stop_watching();

 private:
  struct Impl;
  explicit LibraryService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace focal::library
