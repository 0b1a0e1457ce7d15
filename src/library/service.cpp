// SPDX-License-Identifier: AGPL-3.0-or-later
// LibraryService: libraries, import, upload, asset edits, the watcher (its jobs are in library_jobs.cpp).
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <exiv2/exiv2.hpp>
#include <fstream>
#include <mutex>
#include <random>
#include <set>

#include "core/logging.h"
#include "core/storage.h"
#include "jobs/jobs.h"
#include "library/library.h"
#include "library/media.h"
#include "library/repository_detail.h"
#include "library/service_impl.h"
#include "library/watcher.h"
#include "store/database.h"
#include "store/query.h"

namespace focal::library {
namespace {

namespace fs = std::filesystem;

bool hidden_name(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

Status record_issue(store::Connection& conn, const std::string& path, const std::string& reason) {
  return store::exec(conn,
                     "INSERT INTO import_issue (path, reason, seen_at) VALUES (?, ?, ?) "
                     "ON CONFLICT (path) DO UPDATE SET reason = excluded.reason, seen_at = excluded.seen_at",
                     path, reason, store::now_ms());
}

Status set_status(store::Connection& conn, std::int64_t asset_id, AssetStatus status,
                  const std::string& reason) {
  return store::exec(conn, "UPDATE asset SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?",
                     to_string(status), reason, store::now_ms(), asset_id);
}

}  // namespace

Expected<std::int64_t> LibraryService::Impl::library_owner(std::int64_t library_id) {
  return db.read([&](store::Connection& conn) -> Expected<std::int64_t> {
    auto owner =
        store::query_one<std::int64_t>(conn, "SELECT owner_id FROM library WHERE id = ?", library_id);
    if (!owner) return std::move(owner).error();
    if (!*owner) return not_found(fmt::format("Library {} not found", library_id));
    return **owner;
  });
}

Status LibraryService::Impl::mark(std::int64_t asset_id, AssetStatus status, const std::string& reason) {
  return db.write([&](store::Connection& conn) { return set_status(conn, asset_id, status, reason); });
}

Status LibraryService::Impl::import_one(const fs::path& path, std::optional<std::int64_t> library_id,
                                        std::int64_t owner_id, ScanReport& report,
                                        const std::string& display_name, std::string checksum) {
  ++report.files_seen;
  const std::string path_text = path.string();
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    ++report.errors;
    return db.write(
        [&](store::Connection& conn) { return record_issue(conn, path_text, "cannot stat file"); });
  }
  const std::int64_t size = st.st_size;
  const std::int64_t modified = detail::mtime_ms(st);

  // Known path: unchanged, changed, or back online.
  auto known = db.read([&](store::Connection& conn) -> Expected<std::optional<Asset>> {
    auto asset = detail::find_asset(conn, "original_path", path_text, owner_id);
    if (!asset || *asset) return asset;
    auto dup =
        store::query_one<std::int64_t>(conn, "SELECT 1 FROM asset_duplicate_path WHERE path = ?", path_text);
    if (!dup) return std::move(dup).error();
    if (*dup) {
      Asset marker;  // id 0: a known duplicate path
      return std::optional<Asset>{marker};
    }
    return std::optional<Asset>{};
  });
  if (!known) return known.error();
  if (*known && (*known)->id == 0) {
    ++report.unchanged;
    return {};
  }
  if (*known && (*known)->file_size == size && (*known)->file_modified_at_ms == modified &&
      (*known)->status != AssetStatus::kOffline) {
    ++report.unchanged;
    return {};
  }

  const ImageFormat format = detail::sniff_file(path);
  // An image extension with foreign content is a damaged photo: it becomes a corrupt asset so that it shows
  // up.
  const bool damaged_image = format == ImageFormat::kUnknown && size > 0 && detail::is_image_extension(path);
  if (format == ImageFormat::kUnknown && !damaged_image) {
    ++report.unsupported;
    std::string reason = size == 0                          ? "empty file"
                         : detail::is_video_extension(path) ? "video files are not supported"
                                                            : "unsupported file type";
    return db.write([&](store::Connection& conn) { return record_issue(conn, path_text, reason); });
  }
  if (checksum.empty()) {
    auto hashed = detail::sha256_file(path);
    if (!hashed) {
      ++report.errors;
      return db.write(
          [&](store::Connection& conn) { return record_issue(conn, path_text, hashed.error().message); });
    }
    checksum = std::move(*hashed);
  }

  const std::int64_t now = store::now_ms();
  std::int64_t new_id = 0;
  bool duplicate = false;
  Status written = db.write([&](store::Connection& conn) -> Status {
    auto same = detail::find_asset(conn, "checksum", checksum, owner_id);
    if (!same) return same.error();
    if (*same && (*same)->original_path != path_text) {
      duplicate = true;
      return store::exec(conn,
                         "INSERT INTO asset_duplicate_path (path, asset_id, seen_at) VALUES (?, ?, ?) ON "
                         "CONFLICT DO NOTHING",
                         path_text, (*same)->id, now);
    }
    if (*known) {
      // Changed content (or back online) at a known path: refresh and reprocess.
      Status ran =
          store::exec(conn,
                      "UPDATE asset SET checksum = ?, file_type = ?, file_size = ?, file_modified_at = ?, "
                      "status = 'pending', status_reason = '', updated_at = ? WHERE id = ?",
                      checksum, detail::file_type_name(format), size, modified, now, (*known)->id);
      if (!ran) return ran;
      new_id = (*known)->id;
    } else {
      Status ran = store::exec(
          conn,
          "INSERT INTO asset (library_id, type, status, status_reason, visibility, original_path, "
          "original_file_name, checksum, file_type, file_size, file_created_at, file_modified_at, "
          "created_at, updated_at, owner_id) VALUES (?, 'IMAGE', ?, ?, 'timeline', ?, ?, ?, ?, ?, ?, ?, ?, "
          "?, ?)",
          library_id, damaged_image ? "corrupt" : "pending",
          damaged_image ? "the content is not a recognised image format" : "", path_text,
          display_name.empty() ? path.filename().string() : display_name, checksum,
          detail::file_type_name(format), size, modified, modified, now, now, owner_id);
      if (!ran) return ran;
      new_id = conn.last_insert_rowid();
    }
    if (Status ran = store::exec(conn, "DELETE FROM import_issue WHERE path = ?", path_text); !ran)
      return ran;
    if (damaged_image) return {};  // nothing to extract or render
    auto job = queue.enqueue(conn, jobs::JobRequest(std::string(jobs::job::kAssetExtractMetadata),
                                                    {{"id", new_id}, {"source", "upload"}}));
    if (!job) return job.error();
    return {};
  });
  if (!written) return written;
  if (duplicate) {
    ++report.duplicates;
  } else {
    ++report.imported;
    report.new_asset_ids.push_back(new_id);
  }
  return {};
}

Expected<ScanReport> LibraryService::Impl::scan_folder(const fs::path& root, std::int64_t library_id,
                                                       std::int64_t owner_id) {
  ScanReport report;
  std::error_code ec;
  const fs::path data_dir = fs::weakly_canonical(options.data_dir, ec);
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  if (ec) return bad_request(fmt::format("cannot read {}: {}", root.string(), ec.message()));
  // Collected and sorted first, so imports (and asset ids) follow path order on every file system.
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) {
      spdlog::warn("scan: {}", ec.message());
      ec.clear();
      continue;
    }
    const fs::path& path = it->path();
    std::error_code type_ec;
    const bool directory = it->is_directory(type_ec);
    if (hidden_name(path) || (directory && path == data_dir)) {
      if (directory) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(type_ec)) files.push_back(path);
  }
  std::sort(files.begin(), files.end());
  std::set<std::string> seen;
  for (const auto& path : files) {
    seen.insert(path.string());
    if (Status one = import_one(path, library_id, owner_id, report); !one) {
      if (one.error().kind == ErrorKind::kStorageFull)
        return one.error();  // every further file would fail too
      ++report.errors;
      spdlog::warn("import {}: {}", path.string(), one.error().message);
    }
  }
  // Assets of this library whose file is gone become offline.
  Status offline = db.write([&](store::Connection& conn) -> Status {
    std::vector<std::int64_t> gone;
    Status listed = store::for_each_row(
        conn, "SELECT id, original_path FROM asset WHERE library_id = ? AND status != 'offline'",
        [&](const store::Statement& row) {
          const std::string p = row.text(1);
          std::error_code exists_ec;
          if (!seen.contains(p) && !fs::exists(p, exists_ec)) gone.push_back(row.int64(0));
        },
        library_id);
    if (!listed) return listed;
    for (auto id : gone) {
      if (Status s = set_status(conn, id, AssetStatus::kOffline, "file missing"); !s) return s;
    }
    return store::exec(conn, "UPDATE library SET last_scanned_at = ? WHERE id = ?", store::now_ms(),
                       library_id);
  });
  if (!offline) return offline.error();
  return report;
}

LibraryService::LibraryService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LibraryService::~LibraryService() { stop_watching(); }

Expected<std::unique_ptr<LibraryService>> LibraryService::create(store::Database& db, jobs::JobQueue& queue,
                                                                 LibraryOptions options) {
  if (Status valid = options.validate(); !valid) return valid.error();
  if (sodium_init() < 0) return internal_error("libsodium initialisation failed");
  // Library files are untrusted: libvips only ever sees files whose magic bytes are one of the supported
  // formats (media.cpp checks before every load), so its other loaders (PDF, SVG, Matlab…) are never reached.
  if (Status vips = init_image_decoding("focal"); !vips) return vips.error();
  // exiv2's XMP toolkit must be initialised once before threads parse XMP.
  Exiv2::XmpParser::initialize();
  Exiv2::LogMsg::setLevel(Exiv2::LogMsg::mute);  // malformed metadata is expected input, not console noise
  std::error_code ec;
  fs::create_directories(options.data_dir / "thumbs", ec);
  if (!ec) fs::create_directories(options.data_dir / "upload", ec);
  if (ec)
    return bad_request(fmt::format("cannot create data dir {}: {}", options.data_dir.string(), ec.message()));
  options.data_dir = fs::canonical(options.data_dir, ec);
  if (ec) return bad_request(fmt::format("data dir {}: {}", options.data_dir.string(), ec.message()));
  auto impl = std::make_unique<Impl>(db, queue, std::move(options));
  impl->register_jobs();
  return std::unique_ptr<LibraryService>(new LibraryService(std::move(impl)));
}

const AssetRepository& LibraryService::assets() const { return impl_->repo; }
const LibraryOptions& LibraryService::options() const { return impl_->options; }

namespace {

constexpr const char* kLibraryColumns = "id, owner_id, path, created_at, last_scanned_at";

Library library_from_row(const store::Statement& row) {
  Library library{row.int64(0), row.int64(1), row.text(2), row.int64(3), std::nullopt};
  if (!row.is_null(4)) library.last_scanned_at_ms = row.int64(4);
  return library;
}

}  // namespace

Expected<Library> LibraryService::add_library(const fs::path& folder, std::int64_t owner_id) {
  std::error_code ec;
  const fs::path canonical = fs::canonical(folder, ec);
  if (ec || !fs::is_directory(canonical, ec)) {
    return bad_request(fmt::format("Library folder {} is not a readable directory", folder.string()));
  }
  auto library = impl_->db.write([&](store::Connection& conn) -> Expected<Library> {
    Status inserted = store::exec(
        conn, "INSERT INTO library (path, created_at, owner_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        canonical.string(), store::now_ms(), owner_id);
    if (!inserted) return inserted.error();
    auto row = store::query_one(conn, fmt::format("SELECT {} FROM library WHERE path = ?", kLibraryColumns),
                                library_from_row, canonical.string());
    if (!row) return std::move(row).error();
    if (!*row) return internal_error("library row vanished");
    Library out = std::move(**row);
    if (out.owner_id != owner_id) {
      return Error{ErrorKind::kConflict,
                   fmt::format("{} is already the library of another user", canonical.string())};
    }
    return out;
  });
  if (!library) return library;
  std::lock_guard lock(impl_->watcher_mutex);
  if (impl_->watcher) {
    if (Status added = impl_->watcher->add(library->path, library->id); !added) return added.error();
  }
  return library;
}

Expected<std::vector<Library>> LibraryService::libraries() const {
  return impl_->db.read([&](store::Connection& conn) -> Expected<std::vector<Library>> {
    return store::query(conn, fmt::format("SELECT {} FROM library ORDER BY id", kLibraryColumns),
                        library_from_row);
  });
}

Status LibraryService::remove_library(std::int64_t library_id) {
  return impl_->db.write([&](store::Connection& conn) -> Status {
    if (Status ran = store::exec(conn, "DELETE FROM library WHERE id = ?", library_id); !ran) return ran;
    if (conn.changes() == 0) return not_found(fmt::format("Library {} not found", library_id));
    return {};
  });
}

Expected<ScanReport> LibraryService::scan(std::int64_t library_id) {
  auto all = libraries();
  if (!all) return all.error();
  for (const auto& library : *all) {
    if (library.id == library_id) return impl_->scan_folder(library.path, library.id, library.owner_id);
  }
  return not_found(fmt::format("Library {} not found", library_id));
}

Expected<ScanReport> LibraryService::import_folder(const fs::path& folder, std::int64_t owner_id) {
  auto library = add_library(folder, owner_id);
  if (!library) return library.error();
  return scan(library->id);
}

Expected<ScanReport> LibraryService::import_file(const fs::path& file, std::int64_t library_id) {
  auto owner = impl_->library_owner(library_id);
  if (!owner) return owner.error();
  ScanReport report;
  if (Status one = impl_->import_one(file, library_id, *owner, report); !one) return one.error();
  return report;
}

Expected<UploadResult> LibraryService::upload(std::span<const std::uint8_t> bytes, std::string_view file_name,
                                              std::int64_t owner_id) {
  if (bytes.empty()) return bad_request("The uploaded file is empty");
  if (file_name.empty() || file_name == "." || file_name == ".." ||
      file_name.find_first_of("/\\") != std::string_view::npos ||
      file_name.find('\0') != std::string_view::npos) {
    return bad_request("Invalid file name");
  }
  const ImageFormat format = sniff_image_format(bytes);
  if (format == ImageFormat::kUnknown) return bad_request("Unsupported file type");
  const std::string checksum = detail::sha256_bytes(bytes);
  const auto find = [&] {
    return impl_->db.read(
        [&](store::Connection& conn) { return detail::find_asset(conn, "checksum", checksum, owner_id); });
  };
  auto existing = find();
  if (!existing) return existing.error();
  if (*existing) return UploadResult{**existing, true};

  const fs::path target = impl_->options.data_dir / "upload" / std::to_string(owner_id) /
                          checksum.substr(0, 2) / checksum.substr(2, 2) /
                          fmt::format("{}.{}", checksum, detail::file_type_name(format));
  if (Status written = write_file_atomically(target, bytes, true); !written) return written.error();

  ScanReport report;
  if (Status one =
          impl_->import_one(target, std::nullopt, owner_id, report, std::string(file_name), checksum);
      !one) {
    return one.error();
  }
  auto stored = find();
  if (!stored) return stored.error();
  if (!*stored) return internal_error("uploaded asset not found after import");
  return UploadResult{**stored, report.duplicates > 0};
}

Status LibraryService::set_visibility(std::int64_t asset_id, Visibility visibility) {
  return impl_->db.write([&](store::Connection& conn) -> Status {
    Status ran = store::exec(conn, "UPDATE asset SET visibility = ?, updated_at = ? WHERE id = ?",
                             to_string(visibility), store::now_ms(), asset_id);
    if (!ran) return ran;
    if (conn.changes() == 0) return not_found(fmt::format("Asset {} not found", asset_id));
    return {};
  });
}

Status LibraryService::set_favorite(std::int64_t asset_id, bool favorite) {
  return impl_->db.write([&](store::Connection& conn) -> Status {
    return store::exec(conn, "UPDATE asset SET is_favorite = ?, updated_at = ? WHERE id = ?", favorite,
                       store::now_ms(), asset_id);
  });
}

Status LibraryService::set_description(std::int64_t asset_id, std::string_view description) {
  return impl_->db.write([&](store::Connection& conn) -> Status {
    return store::exec(conn,
                       "INSERT INTO asset_exif (asset_id, description) VALUES (?, ?) "
                       "ON CONFLICT (asset_id) DO UPDATE SET description = excluded.description",
                       asset_id, description);
  });
}

Status LibraryService::set_rating(std::int64_t asset_id, std::optional<int> rating) {
  return impl_->db.write([&](store::Connection& conn) -> Status {
    return store::exec(conn,
                       "INSERT INTO asset_exif (asset_id, rating) VALUES (?, ?) "
                       "ON CONFLICT (asset_id) DO UPDATE SET rating = excluded.rating",
                       asset_id, rating);
  });
}

Expected<std::int64_t> LibraryService::adopt_unowned(std::int64_t owner_id) {
  return impl_->db.write([&](store::Connection& conn) -> Expected<std::int64_t> {
    if (Status ran = conn.exec(fmt::format("UPDATE library SET owner_id = {} WHERE owner_id = 0", owner_id));
        !ran)
      return ran.error();
    if (Status ran = conn.exec(fmt::format("UPDATE asset SET owner_id = {} WHERE owner_id = 0", owner_id));
        !ran)
      return ran.error();
    return conn.changes();
  });
}

Expected<bool> LibraryService::has_unowned() const {
  return impl_->db.read([&](store::Connection& conn) -> Expected<bool> {
    return store::query_value<bool>(
        conn,
        "SELECT EXISTS (SELECT 1 FROM asset WHERE owner_id = 0) OR EXISTS (SELECT 1 FROM "
        "library WHERE owner_id = 0)");
  });
}

Status LibraryService::soft_delete(std::int64_t asset_id) {
  return impl_->db.write([&](store::Connection& conn) -> Status {
    const auto now = store::now_ms();
    return store::exec(conn,
                       "UPDATE asset SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
                       now, now, asset_id);
  });
}

Expected<bool> LibraryService::extract_metadata(std::int64_t asset_id) {
  return impl_->extract_metadata(asset_id);
}

Expected<bool> LibraryService::generate_thumbnails(std::int64_t asset_id) {
  return impl_->generate_thumbnails(asset_id);
}

Status LibraryService::start_watching() {
  std::lock_guard lock(impl_->watcher_mutex);
  if (impl_->watcher) return {};
  auto watcher = detail::Watcher::create(
      impl_->options.watch_debounce, [impl = impl_.get()](const fs::path& file, std::int64_t library_id) {
        // Previews, thumbnails and uploads are written by focal itself (the data dir may sit inside a
        // library).
        const auto relative = file.lexically_relative(impl->options.data_dir);
        if (!relative.empty() && *relative.begin() != "..") return;
        ScanReport report;
        auto owner = impl->library_owner(library_id);
        if (!owner) {
          spdlog::warn("watcher: {}: {}", file.string(), owner.error().message);
          return;
        }
        if (Status one = impl->import_one(file, library_id, *owner, report); !one) {
          spdlog::warn("watcher: import {}: {}", file.string(), one.error().message);
        } else if (report.imported > 0) {
          spdlog::info("watcher: imported {}", file.string());
        }
      });
  if (!watcher) return watcher.error();
  auto all = libraries();
  if (!all) return all.error();
  for (const auto& library : *all) {
    if (Status added = (*watcher)->add(library.path, library.id); !added) {
      spdlog::warn("watcher: {}", added.error().message);
    }
  }
  impl_->watcher = std::move(*watcher);
  return {};
}

void LibraryService::stop_watching() {
  std::unique_ptr<detail::Watcher> stopped;
  {
    std::lock_guard lock(impl_->watcher_mutex);
    stopped = std::move(impl_->watcher);
  }
}

}  // namespace focal::library
