// SPDX-License-Identifier: AGPL-3.0-or-later
// LibraryService's jobs: metadata extraction, previews and thumbnails, their queue-all jobs and the upload
// job chain.
#include <sys/stat.h>

#include "core/logging.h"
#include "library/media.h"
#include "library/service_impl.h"
#include "store/query.h"

namespace focal::library {
namespace {

namespace fs = std::filesystem;

constexpr int kPageSize = 1000;  // Immich's JOBS_ASSET_PAGINATION_SIZE

// <data_dir>/thumbs/<lo byte>/<next byte>/<id>-<type>.<ext>, relative to the data dir.
fs::path rendition_path(std::int64_t asset_id, AssetFileType type) {
  const auto shard1 = fmt::format("{:02x}", asset_id & 0xFF);
  const auto shard2 = fmt::format("{:02x}", (asset_id >> 8) & 0xFF);
  const auto name = type == AssetFileType::kPreview ? fmt::format("{}-preview.jpeg", asset_id)
                                                    : fmt::format("{}-thumbnail.webp", asset_id);
  return fs::path("thumbs") / shard1 / shard2 / name;
}

}  // namespace

Expected<bool> LibraryService::Impl::extract_metadata(std::int64_t asset_id) {
  auto found = repo.get(asset_id);
  if (!found) return found.error();
  if (!*found) return not_found(fmt::format("Asset {} not found", asset_id));
  const Asset& asset = **found;
  const fs::path path = asset.original_path;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (Status s = mark(asset_id, AssetStatus::kOffline, "file missing"); !s) return s.error();
    return false;
  }
  auto header = detail::read_header(path, options.max_pixels);
  if (!header) {
    if (Status s = mark(asset_id, AssetStatus::kCorrupt, header.error().message); !s) return s.error();
    return false;
  }
  const Exif exif = detail::read_exif(path, st.st_size);
  const bool swapped = header->orientation >= 5;
  const int width = swapped ? header->height : header->width;
  const int height = swapped ? header->width : header->height;
  std::int64_t taken = detail::mtime_ms(st);
  if (exif.date_time_original) {
    if (auto parsed = detail::parse_exif_time(*exif.date_time_original, exif.time_zone)) taken = *parsed;
  }
  const std::int64_t now = store::now_ms();
  Status written = db.write([&](store::Connection& conn) -> Status {
    Status ran = store::exec(
        conn,
        "INSERT INTO asset_exif (asset_id, make, model, lens_model, description, rating, orientation, "
        "latitude, "
        "longitude, date_time_original, time_zone, exif_image_width, exif_image_height, file_size) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (asset_id) DO UPDATE SET "
        "make = excluded.make, model = excluded.model, lens_model = excluded.lens_model, "
        "description = excluded.description, rating = excluded.rating, orientation = excluded.orientation, "
        "latitude = excluded.latitude, longitude = excluded.longitude, "
        "date_time_original = excluded.date_time_original, time_zone = excluded.time_zone, "
        "exif_image_width = excluded.exif_image_width, exif_image_height = excluded.exif_image_height, "
        "file_size = excluded.file_size",
        asset_id, exif.make, exif.model, exif.lens_model, exif.description, exif.rating,
        exif.orientation ? exif.orientation : std::optional<int>(header->orientation), exif.latitude,
        exif.longitude, exif.date_time_original, exif.time_zone, header->width, header->height,
        exif.file_size);
    if (!ran) return ran;

    ran =
        store::exec(conn,
                    "UPDATE asset SET status = CASE WHEN status = 'corrupt' THEN status ELSE 'ready' END, "
                    "width = ?, height = ?, file_created_at = ?, file_size = ?, updated_at = ? WHERE id = ?",
                    width, height, taken, exif.file_size, now, asset_id);
    if (!ran) return ran;

    return store::exec(
        conn,
        "INSERT INTO asset_job_status (asset_id, metadata_extracted_at) VALUES (?, ?) "
        "ON CONFLICT (asset_id) DO UPDATE SET metadata_extracted_at = excluded.metadata_extracted_at",
        asset_id, now);
  });
  if (!written) return written.error();
  return true;
}

Expected<bool> LibraryService::Impl::generate_thumbnails(std::int64_t asset_id) {
  auto found = repo.get(asset_id);
  if (!found) return found.error();
  if (!*found) return not_found(fmt::format("Asset {} not found", asset_id));
  const Asset& asset = **found;
  if (asset.status == AssetStatus::kUnsupported || asset.status == AssetStatus::kOffline) return false;
  const fs::path original = asset.original_path;
  auto header = detail::read_header(original, options.max_pixels);
  if (!header) {
    if (Status s = mark(asset_id, AssetStatus::kCorrupt, header.error().message); !s) return s.error();
    return false;
  }
  const fs::path preview = rendition_path(asset_id, AssetFileType::kPreview);
  const fs::path thumbnail = rendition_path(asset_id, AssetFileType::kThumbnail);
  auto rendered = detail::render(original, options.data_dir / preview, options.data_dir / thumbnail, options);
  if (!rendered) {
    if (rendered.error().kind != ErrorKind::kUnprocessable)
      return rendered.error();  // disk trouble: retry later
    if (Status s = mark(asset_id, AssetStatus::kCorrupt, rendered.error().message); !s) return s.error();
    return false;
  }
  Status written = db.write([&](store::Connection& conn) -> Status {
    auto stmt = conn.prepare(
        "INSERT INTO asset_file (asset_id, type, path) VALUES (?, ?, ?) "
        "ON CONFLICT (asset_id, type) DO UPDATE SET path = excluded.path");
    if (!stmt) return stmt.error();
    for (auto [type, rel] :
         {std::pair{AssetFileType::kPreview, preview}, std::pair{AssetFileType::kThumbnail, thumbnail}}) {
      stmt->reset();
      store::bind_all(*stmt, asset_id, to_string(type), rel.string());
      if (Status ran = stmt->run(); !ran) return ran;
    }
    // Metadata may not have run (admin "missing thumbnails"): keep a usable displayed size.
    const bool swapped = header->orientation >= 5;
    return store::exec(conn, "UPDATE asset SET width = ?, height = ? WHERE id = ? AND width = 0",
                       swapped ? header->height : header->width, swapped ? header->width : header->height,
                       asset_id);
  });
  if (!written) return written.error();
  return true;
}

Expected<jobs::JobOutcome> LibraryService::Impl::queue_all(const jobs::Job& job,
                                                           std::string_view per_asset_job,
                                                           std::string_view missing_sql) {
  const bool force = job.payload().force.value_or(false);
  std::int64_t after = 0;
  while (true) {
    auto page = db.read([&](store::Connection& conn) -> Expected<std::vector<std::int64_t>> {
      return store::query<std::int64_t>(
          conn,
          fmt::format(
              "SELECT id FROM asset WHERE id > ? AND deleted_at IS NULL AND status IN ('pending', 'ready') "
              "{} ORDER BY id LIMIT ?",
              force ? std::string_view() : missing_sql),
          after, kPageSize);
    });
    if (!page) return page.error();
    if (page->empty()) break;
    std::vector<jobs::JobRequest> requests;
    for (auto id : *page) {
      requests.emplace_back(std::string(per_asset_job), nlohmann::json{{"id", id}});
    }
    if (Status queued = queue.enqueue_all(requests); !queued) return queued.error();
    after = page->back();
  }
  return jobs::JobOutcome::kSuccess;
}

void LibraryService::Impl::register_jobs() {
  using jobs::Job;
  using jobs::JobOutcome;
  auto per_asset = [this](auto body) {
    return [this, body](const Job& job) -> Expected<JobOutcome> {
      auto id = job.target_id();
      if (!id) return id.error();
      Expected<bool> done = (this->*body)(*id);
      if (!done) {
        if (done.error().kind == ErrorKind::kNotFound) return JobOutcome::kFailed;
        return done.error();
      }
      return *done ? JobOutcome::kSuccess : JobOutcome::kFailed;
    };
  };
  queue.register_handler(jobs::job::kAssetExtractMetadata, jobs::queue::kMetadataExtraction,
                         per_asset(&Impl::extract_metadata));
  queue.register_handler(jobs::job::kAssetGenerateThumbnails, jobs::queue::kThumbnailGeneration,
                         per_asset(&Impl::generate_thumbnails));
  queue.register_handler(
      jobs::job::kAssetExtractMetadataQueueAll, jobs::queue::kMetadataExtraction, [this](const Job& job) {
        return queue_all(job, jobs::job::kAssetExtractMetadata,
                         "AND NOT EXISTS (SELECT 1 FROM asset_job_status s WHERE s.asset_id = "
                         "asset.id AND s.metadata_extracted_at IS NOT NULL)");
      });
  queue.register_handler(
      jobs::job::kAssetGenerateThumbnailsQueueAll, jobs::queue::kThumbnailGeneration, [this](const Job& job) {
        return queue_all(job, jobs::job::kAssetGenerateThumbnails,
                         "AND (SELECT count(*) FROM asset_file f WHERE f.asset_id = asset.id) < 2");
      });

  // As in Immich (storage template step omitted: it always "succeeds"): uploads and copies go on to
  // thumbnails with the same payload.
  queue.on_done(jobs::job::kAssetExtractMetadata, [](const Job& job, JobOutcome) {
    const std::string source = job.payload().source;
    std::vector<jobs::JobRequest> next;
    if (source == "upload" || source == "copy") {
      next.emplace_back(std::string(jobs::job::kAssetGenerateThumbnails), job.data);
    }
    return next;
  });
  // Step 4: thumbnails done for an upload (or notify) → smart search, face detection and OCR.
  queue.on_done(jobs::job::kAssetGenerateThumbnails, [](const Job& job, JobOutcome) {
    std::vector<jobs::JobRequest> next;
    if (const jobs::JobPayload payload = job.payload(); payload.source == "upload" || payload.notify) {
      next.emplace_back(std::string(jobs::job::kSmartSearch), job.data);
      next.emplace_back(std::string(jobs::job::kAssetDetectFaces), job.data);
      next.emplace_back(std::string(jobs::job::kOcr), job.data);
    }
    return next;
  });
}

}  // namespace focal::library
