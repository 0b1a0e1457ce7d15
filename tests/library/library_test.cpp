// SPDX-License-Identifier: AGPL-3.0-or-later
#include "library/library.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>
#include <vips/vips8>

#include "jobs/jobs.h"
#include "library/library_schema.h"
#include "store/database.h"
#include "support/test_database.h"

namespace focal::library {
namespace {

constexpr std::int64_t kOwner = 1;  // every asset of these tests belongs to user 1

namespace fs = std::filesystem;
const fs::path kPhotos = fs::path(FOCAL_TESTDATA) / "photos";
const fs::path kBroken = fs::path(FOCAL_TESTDATA) / "broken";

AssetFilter filter(bool hidden, bool deleted, bool preview) {
  AssetFilter f;
  f.include_hidden = hidden;
  f.include_deleted = deleted;
  f.require_preview = preview;
  return f;
}

class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = fs::temp_directory_path() /
            ("focal-lib-" + std::to_string(getpid()) + "-" + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs on both engines.
class LibraryTest : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override {
    FOCAL_REQUIRE_DATABASE(database_);
    open_service({});
  }

  void open_service(LibraryOptions options) {
    library_.reset();
    queue_.reset();
    db_.reset();
    db_ = database_.open();
    ASSERT_NE(db_, nullptr);
    ASSERT_TRUE(jobs::migrate(*db_).ok());
    ASSERT_TRUE(migrate(*db_).ok());
    jobs::JobQueueOptions queue_options;
    queue_options.poll_interval = std::chrono::milliseconds(5);
    auto queue = jobs::JobQueue::open(*db_, queue_options);
    ASSERT_TRUE(queue.ok()) << queue.error().message;
    queue_ = std::move(*queue);
    options.data_dir = dir_.path() / "data";
    options.watch_debounce = std::chrono::milliseconds(100);
    auto library = LibraryService::create(*db_, *queue_, options);
    ASSERT_TRUE(library.ok()) << library.error().message;
    library_ = std::move(*library);
  }

  fs::path make_folder(const std::vector<std::string>& names, const fs::path& from = kPhotos) {
    const fs::path folder = dir_.path() / "lib";
    fs::create_directories(folder);
    for (const auto& name : names)
      fs::copy_file(from / name, folder / name, fs::copy_options::overwrite_existing);
    return folder;
  }

  void drain() {
    auto report = queue_->run_until_idle();
    ASSERT_TRUE(report.ok()) << report.error().message;
  }

  // The asset imported from `name` (by file name).
  Asset asset_named(const std::string& name) {
    auto ids = library_->assets().page_ids(0, 10000, filter(true, true, false));
    EXPECT_TRUE(ids.ok());
    for (auto id : *ids) {
      auto asset = library_->assets().get(id);
      if (asset.ok() && *asset && (*asset)->original_file_name == name) return **asset;
    }
    ADD_FAILURE() << "no asset named " << name;
    return {};
  }

  jobs::QueueCounts counts(std::string_view queue) { return queue_->status(queue)->counts; }

  test_support::TestDatabase database_{GetParam()};
  TempDir dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<jobs::JobQueue> queue_;
  std::unique_ptr<LibraryService> library_;
};

TEST_P(LibraryTest, ScanOfSharedPhotosImportsEachContentOnce) {
  std::int64_t files = 0;
  for (const auto& entry : fs::directory_iterator(kPhotos)) files += entry.is_regular_file() ? 1 : 0;

  auto report = library_->import_folder(kPhotos, kOwner);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->files_seen, files);
  // Two byte-identical pairs in the test data (checked with sha256sum).
  EXPECT_EQ(report->duplicates, 2);
  EXPECT_EQ(report->errors, 0);
  EXPECT_EQ(report->imported + report->duplicates + report->unsupported, files);
  EXPECT_EQ(static_cast<std::int64_t>(report->new_asset_ids.size()), report->imported);
  EXPECT_EQ(counts(jobs::queue::kMetadataExtraction).waiting, report->imported);

  const Asset rocks = asset_named("dup-el_torcal_rocks-copy.jpeg");  // imports follow path order
  auto dup_paths = library_->assets().duplicate_paths(rocks.id);
  ASSERT_TRUE(dup_paths.ok());
  ASSERT_EQ(dup_paths->size(), 1u);
  EXPECT_EQ(fs::path((*dup_paths)[0]).filename(), "nature-el_torcal_rocks.jpg");

  auto issues = library_->assets().import_issues();
  ASSERT_TRUE(issues.ok());
  std::set<std::string> unsupported;
  for (const auto& issue : *issues) {
    unsupported.insert(fs::path(issue.path).filename().string());
    EXPECT_FALSE(issue.reason.empty());
  }
  EXPECT_TRUE(unsupported.contains("text-tesseract-eurotext.txt"));
  EXPECT_TRUE(unsupported.contains("format-canon-eos-6d.xmp"));
  EXPECT_EQ(static_cast<std::int64_t>(issues->size()), report->unsupported);

  // A rescan finds nothing new.
  auto again = library_->import_folder(kPhotos, kOwner);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->imported, 0);
  EXPECT_EQ(again->duplicates, 0);
  EXPECT_EQ(again->unchanged, report->imported + report->duplicates);
  EXPECT_EQ(counts(jobs::queue::kMetadataExtraction).waiting, report->imported);
}

TEST_P(LibraryTest, MetadataPreviewsAndChain) {
  const std::vector<std::string> names{"orientation-landscape-1.jpg",
                                       "orientation-landscape-6.jpg",
                                       "face-jennifer-aniston-1.jpg",
                                       "exif-gps-DSCN0010.jpg",
                                       "exif-rating.jpg",
                                       "dup-airplane-IMG_4120.jpg",
                                       "format-small.heif",
                                       "format-alpha-channel.png",
                                       "format-jpeg-named-heic.heic"};
  auto report = library_->import_folder(make_folder(names), kOwner);
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->imported, static_cast<std::int64_t>(names.size()));
  drain();

  for (const auto& name : names) {
    const Asset asset = asset_named(name);
    EXPECT_EQ(asset.status, AssetStatus::kReady) << name << ": " << asset.status_reason;
    auto preview = library_->assets().preview_path(asset.id);
    auto thumbnail = library_->assets().file(asset.id, AssetFileType::kThumbnail);
    ASSERT_TRUE(preview.ok() && *preview && thumbnail.ok() && *thumbnail) << name;
    auto image = vips::VImage::new_from_file((*preview)->c_str());
    EXPECT_LE(std::max(image.width(), image.height()), 1440) << name;
    // Never upscaled; orientation applied: same aspect as the displayed size.
    EXPECT_LE(image.width(), asset.width) << name;
    EXPECT_NEAR(static_cast<double>(image.width()) / image.height(),
                static_cast<double>(asset.width) / asset.height, 0.01)
        << name;
    auto thumb = vips::VImage::new_from_file((*thumbnail)->c_str());
    EXPECT_LE(std::max(thumb.width(), thumb.height()), 250) << name;
  }

  const Asset big = asset_named("face-jennifer-aniston-1.jpg");
  EXPECT_EQ(big.width, 1536);
  EXPECT_EQ(big.height, 2048);
  auto big_preview = vips::VImage::new_from_file((*library_->assets().preview_path(big.id))->c_str());
  EXPECT_EQ(big_preview.width(), 1080);
  EXPECT_EQ(big_preview.height(), 1440);
  const Asset small = asset_named("exif-rating.jpg");
  auto small_preview = vips::VImage::new_from_file((*library_->assets().preview_path(small.id))->c_str());
  EXPECT_EQ(small_preview.width(), 950);
  EXPECT_EQ(small_preview.height(), 634);

  // Orientation 6: stored 1200x1800, displayed 1800x1200; the preview matches the orientation-1 picture.
  const Asset upright = asset_named("orientation-landscape-1.jpg");
  const Asset rotated = asset_named("orientation-landscape-6.jpg");
  EXPECT_EQ(rotated.width, 1800);
  EXPECT_EQ(rotated.height, 1200);
  auto a = vips::VImage::new_from_file((*library_->assets().preview_path(upright.id))->c_str());
  auto b = vips::VImage::new_from_file((*library_->assets().preview_path(rotated.id))->c_str());
  ASSERT_EQ(a.width(), 1440);
  ASSERT_EQ(b.width(), 1440);
  ASSERT_EQ(b.height(), 960);
  const double same = (a - b).abs().avg();
  const double flipped = (a - b.rot(VIPS_ANGLE_D180)).abs().avg();
  EXPECT_LT(same, 8.0);
  EXPECT_GT(flipped, 2 * same + 10);

  auto nikon = library_->assets().exif(asset_named("exif-gps-DSCN0010.jpg").id);
  ASSERT_TRUE(nikon.ok() && *nikon);
  EXPECT_EQ((*nikon)->make, "NIKON");
  EXPECT_EQ((*nikon)->model, "COOLPIX P6000");
  EXPECT_EQ((*nikon)->date_time_original, "2008-10-22T16:28:39");
  ASSERT_TRUE((*nikon)->latitude && (*nikon)->longitude);
  EXPECT_NEAR(*(*nikon)->latitude, 43.4674, 1e-3);
  EXPECT_NEAR(*(*nikon)->longitude, 11.8851, 1e-3);
  EXPECT_EQ((*nikon)->orientation, 1);

  auto iphone = library_->assets().exif(asset_named("dup-airplane-IMG_4120.jpg").id);
  ASSERT_TRUE(iphone.ok() && *iphone);
  EXPECT_EQ((*iphone)->make, "Apple");
  EXPECT_EQ((*iphone)->model, "iPhone SE");
  EXPECT_EQ((*iphone)->date_time_original.value_or("").substr(0, 19), "2019-06-09T12:57:32");
  EXPECT_NEAR((*iphone)->latitude.value_or(0), 50.0477, 1e-3);
  EXPECT_NEAR((*iphone)->longitude.value_or(0), 8.5724, 1e-3);
  EXPECT_EQ(library_->assets().exif(small.id)->value().rating, 3);
  EXPECT_EQ(library_->assets().exif(rotated.id)->value().orientation, 6);
  EXPECT_EQ(asset_named("format-jpeg-named-heic.heic").file_type, "jpeg");
  EXPECT_EQ(asset_named("format-small.heif").file_type, "heif");

  // Immich's job chain: metadata → thumbnails → smart search + face detection for uploads.
  const auto n = static_cast<std::int64_t>(names.size());
  EXPECT_EQ(counts(jobs::queue::kMetadataExtraction).completed, n);
  EXPECT_EQ(counts(jobs::queue::kThumbnailGeneration).completed, n);
  EXPECT_EQ(counts(jobs::queue::kSmartSearch).waiting, n);
  EXPECT_EQ(counts(jobs::queue::kFaceDetection).waiting, n);
  auto smart = queue_->list(jobs::queue::kSmartSearch, jobs::JobState::kWaiting);
  ASSERT_TRUE(smart.ok());
  EXPECT_EQ((*smart)[0].data.at("source"), "upload");

  // "Missing" thumbnails finds nothing; a lost preview row is found again (and does not chain into ML jobs).
  ASSERT_TRUE(queue_->start(jobs::queue::kThumbnailGeneration, false).ok());
  drain();
  EXPECT_EQ(counts(jobs::queue::kThumbnailGeneration).completed, n + 1);
  ASSERT_TRUE(db_->write([&](store::Connection& conn) -> Status {
                   return conn.exec(fmt::format("DELETE FROM asset_file WHERE asset_id = {}", small.id));
                 })
                  .ok());
  ASSERT_TRUE(queue_->start(jobs::queue::kThumbnailGeneration, false).ok());
  drain();
  EXPECT_EQ(counts(jobs::queue::kThumbnailGeneration).completed, n + 3);
  EXPECT_TRUE(library_->assets().preview_path(small.id)->has_value());
  EXPECT_EQ(counts(jobs::queue::kSmartSearch).waiting, n);
}

TEST_P(LibraryTest, BrokenFilesAreRecordedNotFatal) {
  auto report = library_->import_folder(kBroken, kOwner);
  ASSERT_TRUE(report.ok()) << report.error().message;
  drain();
  auto ids = library_->assets().page_ids(0, 1000, {});
  ASSERT_TRUE(ids.ok());
  auto issues = library_->assets().import_issues();
  ASSERT_TRUE(issues.ok());
  std::int64_t files = 0;
  for (const auto& entry : fs::directory_iterator(kBroken)) files += entry.is_regular_file() ? 1 : 0;
  EXPECT_EQ(static_cast<std::int64_t>(ids->size()), files);  // every damaged image is an asset with a reason
  EXPECT_TRUE(issues->empty());

  // Pillow decodes these two (malformed EXIF only); the truncated/corrupt ones must be recorded with a
  // reason.
  for (const char* fine : {"bad-exif-hopper.jpg", "invalid-exif-image01088.jpg"}) {
    const Asset asset = asset_named(fine);
    EXPECT_EQ(asset.status, AssetStatus::kReady) << fine << ": " << asset.status_reason;
    EXPECT_TRUE(library_->assets().preview_path(asset.id)->has_value()) << fine;
  }
  for (const char* bad : {"truncated-jpeg.jpg", "truncated-png.png", "broken-data-stream.png",
                          "broken-80-bytes.png", "truncated-flamingos.jpg", "corrupt-ukbench09268.jpg"}) {
    const Asset asset = asset_named(bad);
    EXPECT_EQ(asset.status, AssetStatus::kCorrupt) << bad;
    EXPECT_FALSE(asset.status_reason.empty()) << bad;
    EXPECT_FALSE(library_->assets().preview_path(asset.id)->has_value()) << bad;
  }
  // Corrupt assets do not chain into ML jobs.
  std::int64_t ready = 0;
  for (auto id : *ids) ready += library_->assets().get(id)->value().status == AssetStatus::kReady ? 1 : 0;
  EXPECT_EQ(counts(jobs::queue::kSmartSearch).waiting, ready);
  // A job that found its file damaged is a failed job (counted and listed, as Immich counts it), except for
  // files whose content is no image at all: they never get a job.
  std::int64_t with_jobs = 0;
  for (auto id : *ids) {
    const auto asset = library_->assets().get(id)->value();
    with_jobs += asset.status == AssetStatus::kCorrupt &&
                 asset.status_reason.find("not a recognised image format") == std::string::npos;
  }
  EXPECT_EQ(
      counts(jobs::queue::kMetadataExtraction).failed + counts(jobs::queue::kThumbnailGeneration).failed,
      with_jobs);
}

TEST_P(LibraryTest, PixelLimitRefusesHugeImages) {
  LibraryOptions options;
  options.max_pixels = 1000 * 1000;
  open_service(options);
  ASSERT_TRUE(
      library_->import_folder(make_folder({"face-jennifer-aniston-1.jpg", "exif-rating.jpg"}), kOwner).ok());
  drain();
  const Asset big = asset_named("face-jennifer-aniston-1.jpg");
  EXPECT_EQ(big.status, AssetStatus::kCorrupt);
  EXPECT_NE(big.status_reason.find("exceeds the limit"), std::string::npos) << big.status_reason;
  EXPECT_EQ(asset_named("exif-rating.jpg").status, AssetStatus::kReady);
}

TEST_P(LibraryTest, UploadStoresAndDeduplicates) {
  const auto bytes = read_bytes(kPhotos / "exif-rating.jpg");
  auto first = library_->upload(bytes, "holiday.jpg", kOwner);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_FALSE(first->duplicate);
  EXPECT_EQ(first->asset.original_file_name, "holiday.jpg");
  EXPECT_FALSE(first->asset.library_id.has_value());
  EXPECT_TRUE(fs::exists(first->asset.original_path));
  EXPECT_EQ(read_bytes(first->asset.original_path), bytes);

  auto second = library_->upload(bytes, "copy.jpg", kOwner);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->asset.id, first->asset.id);

  EXPECT_EQ(library_->upload({}, "x.jpg", kOwner).error().kind, ErrorKind::kBadRequest);
  EXPECT_EQ(library_->upload(bytes, "../x.jpg", kOwner).error().kind, ErrorKind::kBadRequest);
  const std::vector<std::uint8_t> text{'h', 'e', 'l', 'l', 'o'};
  auto rejected = library_->upload(text, "notes.txt", kOwner);
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.error().message, "Unsupported file type");

  drain();
  EXPECT_EQ(library_->assets().get(first->asset.id)->value().status, AssetStatus::kReady);
  EXPECT_EQ(counts(jobs::queue::kSmartSearch).waiting, 1);
}

TEST_P(LibraryTest, RescanMarksMissingFilesOffline) {
  const fs::path folder = make_folder({"exif-rating.jpg", "food-limes.jpg"});
  ASSERT_TRUE(library_->import_folder(folder, kOwner).ok());
  fs::remove(folder / "food-limes.jpg");
  ASSERT_TRUE(library_->import_folder(folder, kOwner).ok());
  EXPECT_EQ(asset_named("food-limes.jpg").status, AssetStatus::kOffline);
  EXPECT_EQ(asset_named("exif-rating.jpg").status, AssetStatus::kPending);
}

TEST_P(LibraryTest, JobStatusMarkersAndFilters) {
  ASSERT_TRUE(library_->import_folder(make_folder({"exif-rating.jpg", "food-limes.jpg"}), kOwner).ok());
  drain();
  const Asset asset = asset_named("exif-rating.jpg");
  ASSERT_TRUE(db_->write([&](store::Connection& conn) -> Status {
                   return set_job_status(conn, asset.id, JobStatusColumn::kFacesRecognized, 1234);
                 })
                  .ok());
  auto at = db_->read([&](store::Connection& conn) -> Expected<std::int64_t> {
    auto stmt = conn.prepare(
        "SELECT faces_recognized_at, metadata_extracted_at FROM asset_job_status WHERE asset_id = ?");
    if (!stmt) return stmt.error();
    stmt->bind(1, asset.id);
    auto row = stmt->step();
    if (!row) return row.error();
    EXPECT_FALSE(stmt->is_null(1));
    return stmt->int64(0);
  });
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(*at, 1234);

  EXPECT_EQ(*library_->assets().count(filter(false, false, true)), 2);
  ASSERT_TRUE(library_->set_visibility(asset.id, Visibility::kHidden).ok());
  EXPECT_EQ(*library_->assets().count({}), 1);
  EXPECT_EQ(*library_->assets().count(filter(true, false, false)), 2);
  ASSERT_TRUE(library_->soft_delete(asset_named("food-limes.jpg").id).ok());
  EXPECT_EQ(*library_->assets().count(filter(true, false, false)), 1);
  EXPECT_EQ(library_->set_visibility(999999, Visibility::kArchive).error().kind, ErrorKind::kNotFound);
}

TEST_P(LibraryTest, WatcherImportsNewFiles) {
  const fs::path folder = make_folder({});
  ASSERT_TRUE(library_->add_library(folder, kOwner).ok());
  ASSERT_TRUE(library_->start_watching().ok());
  fs::copy_file(kPhotos / "exif-rating.jpg", folder / "new.jpg");
  fs::create_directories(folder / "trip");
  fs::copy_file(kPhotos / "food-limes.jpg", folder / "trip" / "limes.jpg");
  std::int64_t seen = 0;
  for (int i = 0; i < 300 && seen < 2; ++i) {  // generous: up to 30 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    seen = *library_->assets().count({});
  }
  library_->stop_watching();
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(asset_named("new.jpg").status, AssetStatus::kPending);
  EXPECT_EQ(asset_named("limes.jpg").status, AssetStatus::kPending);
  EXPECT_EQ(counts(jobs::queue::kMetadataExtraction).waiting, 2);
}

}  // namespace
}  // namespace focal::library

namespace focal::library {
namespace {

TEST_P(LibraryTest, OwnersKeepTheirOwnCopiesOfTheSameContent) {
  const auto bytes = read_bytes(kPhotos / "food-cake.jpg");
  auto mine = library_->upload(bytes, "cake.jpg", kOwner);
  auto theirs = library_->upload(bytes, "cake.jpg", kOwner + 1);
  ASSERT_TRUE(mine.ok() && theirs.ok());
  EXPECT_FALSE(mine->duplicate);
  EXPECT_FALSE(theirs->duplicate) << "another user's identical upload is theirs, not a duplicate of mine";
  EXPECT_NE(mine->asset.id, theirs->asset.id);
  EXPECT_EQ(mine->asset.owner_id, kOwner);
  EXPECT_EQ(theirs->asset.owner_id, kOwner + 1);
  auto again = library_->upload(bytes, "again.jpg", kOwner + 1);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->asset.id, theirs->asset.id);
  AssetFilter only_mine;
  only_mine.owner_id = kOwner;
  EXPECT_EQ(*library_->assets().count(only_mine), 1);
  // A folder is one user's library.
  const auto folder = make_folder({"food-limes.jpg"});
  ASSERT_TRUE(library_->add_library(folder, kOwner).ok());
  EXPECT_EQ(library_->add_library(folder, kOwner + 1).error().kind, ErrorKind::kConflict);
}

INSTANTIATE_TEST_SUITE_P(Engines, LibraryTest, test_support::engines(), test_support::engine_name);

class LibraryMigrationTest : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override { FOCAL_REQUIRE_DATABASE(database_); }
  test_support::TestDatabase database_{GetParam()};
};

TEST_P(LibraryMigrationTest, RowsFromBeforeOwnershipSurviveAndAreAdopted) {
  TempDir dir;
  auto db = store::Database::open(database_.options(1));
  ASSERT_TRUE(db.ok());
  // A database of the first schema with an asset and rows that reference it.
  ASSERT_TRUE((*db)->migrate("library", std::span(detail::kMigrations).first(1)).ok());
  ASSERT_TRUE(jobs::migrate(**db).ok());
  Status seeded = (*db)->write([](store::Connection& c) {
    return c.exec(
        "INSERT INTO library (id, path, created_at) VALUES (1, '/photos', 0);"
        "INSERT INTO asset (id, library_id, original_path, original_file_name, checksum, created_at, "
        "updated_at) "
        "VALUES (7, 1, '/photos/a.jpg', 'a.jpg', 'abc', 0, 0);"
        "INSERT INTO asset_file (asset_id, type, path) VALUES (7, 'preview', 'thumbs/7.jpg');"
        "INSERT INTO asset_exif (asset_id, make, file_size) VALUES (7, 'Canon', 10);");
  });
  ASSERT_TRUE(seeded) << seeded.error().message;
  ASSERT_TRUE(migrate(**db).ok());
  jobs::JobQueueOptions queue_options;
  auto queue = jobs::JobQueue::open(**db, queue_options);
  ASSERT_TRUE(queue.ok());
  LibraryOptions options;
  options.data_dir = dir.path() / "data";
  auto library = LibraryService::create(**db, **queue, options);
  ASSERT_TRUE(library.ok()) << library.error().message;
  EXPECT_TRUE(*(*library)->has_unowned());
  EXPECT_EQ(*(*library)->adopt_unowned(3), 1);
  EXPECT_FALSE(*(*library)->has_unowned());
  auto asset = (*library)->assets().get(7);
  ASSERT_TRUE(asset.ok() && *asset);
  EXPECT_EQ((*asset)->owner_id, 3);
  EXPECT_EQ((*asset)->library_id, std::optional<std::int64_t>(1));
  EXPECT_TRUE((*(*library)->assets().preview_path(7)).has_value())
      << "rows referencing the rebuilt table stay";
  EXPECT_EQ((*(*library)->assets().exif(7))->make, std::optional<std::string>("Canon"));
  // Foreign keys still cascade from the rebuilt table.
  Status removed =
      (*db)->write([](store::Connection& c) { return c.exec("DELETE FROM asset WHERE id = 7"); });
  ASSERT_TRUE(removed);
  EXPECT_FALSE((*(*library)->assets().preview_path(7)).has_value());
  EXPECT_EQ((*(*library)->libraries())[0].owner_id, 3);
}

INSTANTIATE_TEST_SUITE_P(Engines, LibraryMigrationTest, test_support::engines(), test_support::engine_name);

}  // namespace
}  // namespace focal::library
