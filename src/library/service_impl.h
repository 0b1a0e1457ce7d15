// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal: LibraryService's state, shared by its import side (service.cpp: libraries, scans, uploads, the
// watcher) and its jobs (library_jobs.cpp: metadata extraction, previews, the upload job chain).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "jobs/jobs.h"
#include "library/library.h"
#include "library/watcher.h"
#include "store/database.h"

namespace focal::library {

namespace detail {

inline std::int64_t mtime_ms(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

}  // namespace detail

struct LibraryService::Impl {
  store::Database& db;
  jobs::JobQueue& queue;
  LibraryOptions options;
  AssetRepository repo;
  std::mutex watcher_mutex;
  std::unique_ptr<detail::Watcher> watcher;

  Impl(store::Database& database, jobs::JobQueue& job_queue, LibraryOptions opts)
      : db(database), queue(job_queue), options(std::move(opts)), repo(database, options.data_dir) {}

  // --- import (service.cpp) ---
  Expected<std::int64_t> library_owner(std::int64_t library_id);
  Status mark(std::int64_t asset_id, AssetStatus status, const std::string& reason);
  // Imports one file: a new asset (+ AssetExtractMetadata), a duplicate path, an issue, or nothing new.
  // `display_name` overrides the file name (uploads), `checksum` skips hashing when already known.
  Status import_one(const std::filesystem::path& path, std::optional<std::int64_t> library_id,
                    std::int64_t owner_id, ScanReport& report, const std::string& display_name = {},
                    std::string checksum = {});
  Expected<ScanReport> scan_folder(const std::filesystem::path& root, std::int64_t library_id,
                                   std::int64_t owner_id);

  // --- jobs (library_jobs.cpp) ---
  // Reads the file's header and EXIF into asset_exif and the asset's size and date; false (and the asset
  // marked offline or corrupt) when the file is gone or unreadable.
  Expected<bool> extract_metadata(std::int64_t asset_id);
  // Renders the preview and thumbnail; false when the asset is unsupported or offline, or (marked corrupt)
  // when its file cannot be decoded.
  Expected<bool> generate_thumbnails(std::int64_t asset_id);
  // Queue-all: every asset (force) or those missing the step's result, in pages of 1000.
  Expected<jobs::JobOutcome> queue_all(const jobs::Job& job, std::string_view per_asset_job,
                                       std::string_view missing_sql);
  void register_jobs();
};

}  // namespace focal::library
