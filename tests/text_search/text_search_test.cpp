// SPDX-License-Identifier: AGPL-3.0-or-later
// The library's OCR job and search by text in photos, on a real SQLite store with a fake ML node.
#include "text_search/text_search.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "jobs/jobs.h"
#include "library/library.h"
#include "ml_client/ml_client.h"
#include "settings/settings.h"
#include "store/database.h"
#include "store/query.h"
#include "support/library_test_helpers.h"
#include "support/test_database.h"

namespace focal::text_search {
namespace {

namespace fs = std::filesystem;

class FakeMl final : public test_support::UnavailableMl {
 public:
  Expected<std::vector<ml::TextLine>> ocr(std::string_view model, const ml::OcrOptions& options,
                                          std::string_view image) override {
    ++calls;
    last_model = std::string(model);
    last_options = options;
    if (down) return Error{ErrorKind::kUnavailable, "Machine learning request failed for all URLs"};
    std::vector<ml::TextLine> out;
    for (const std::string& text : texts[std::string(image)]) {
      out.push_back(ml::TextLine{{0.1f, 0.2f, 0.6f, 0.2f, 0.6f, 0.3f, 0.1f, 0.3f}, 0.9f, 0.95f, text});
    }
    return out;
  }
  std::map<std::string, std::vector<std::string>> texts;  // preview bytes -> lines read
  bool down = false;
  int calls = 0;
  std::string last_model;
  ml::OcrOptions last_options;
};

// Runs on both engines.
class TextSearchTest : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override {
    FOCAL_REQUIRE_DATABASE(database_);
    dir_ = database_.dir();
    fs::create_directories(dir_ / "thumbs");
    db_ = database_.open();
    ASSERT_NE(db_, nullptr);
    ASSERT_TRUE(library::migrate(*db_));
    ASSERT_TRUE(jobs::migrate(*db_));
    ASSERT_TRUE(settings::migrate(*db_));
    ASSERT_TRUE(migrate(*db_));
    auto settings = settings::SettingsStore::open(*db_, {});
    ASSERT_TRUE(settings) << settings.error().message;
    settings_ = std::move(*settings);
    assets_ = std::make_unique<library::AssetRepository>(*db_, dir_);
    service_ = std::make_unique<TextSearchService>(*db_, *settings_, ml_, *assets_);
    jobs::JobQueueOptions options;
    options.poll_interval = std::chrono::milliseconds(20);
    auto queue = jobs::JobQueue::open(*db_, options);
    ASSERT_TRUE(queue) << queue.error().message;
    queue_ = std::move(*queue);
    service_->register_jobs(*queue_);
  }

  void TearDown() override {
    queue_.reset();
    service_.reset();
    assets_.reset();
    settings_.reset();
    db_.reset();
  }

  // A timeline asset of `owner` whose preview makes the fake ML node read `lines`.
  std::int64_t add_asset(std::vector<std::string> lines, std::int64_t owner = 1,
                         const std::string& visibility = "timeline") {
    const std::int64_t id = ++assets_made_;
    const std::string preview = "preview-" + std::to_string(id);
    std::ofstream(dir_ / "thumbs" / (std::to_string(id) + ".jpg"), std::ios::binary) << preview;
    ml_.texts[preview] = std::move(lines);
    Status written = db_->write([&](store::Connection& c) -> Status {
      auto asset = c.prepare(
          "INSERT INTO asset (id, status, visibility, original_path, original_file_name, checksum, "
          "file_created_at, created_at, updated_at, owner_id) VALUES (?1, 'ready', ?2, ?3, ?4, ?5, 0, 0, 0, "
          "?6)");
      if (!asset) return asset.error();
      asset->bind(1, id).bind(2, visibility).bind(3, "/photos/" + std::to_string(id) + ".jpg");
      asset->bind(4, std::to_string(id) + ".jpg").bind(5, "checksum-" + std::to_string(id)).bind(6, owner);
      if (Status s = asset->run(); !s) return s;
      auto status = c.prepare("INSERT INTO asset_job_status (asset_id, metadata_extracted_at) VALUES (?, 1)");
      if (!status) return status.error();
      if (Status s = status->bind(1, id).run(); !s) return s;
      auto file = c.prepare("INSERT INTO asset_file (asset_id, type, path) VALUES (?, 'preview', ?)");
      if (!file) return file.error();
      return file->bind(1, id).bind(2, "thumbs/" + std::to_string(id) + ".jpg").run();
    });
    EXPECT_TRUE(written) << written.error().message;
    return id;
  }

  std::unordered_set<std::int64_t> find(std::string_view query, std::optional<std::int64_t> owner = 1) {
    auto found = service_->matching_assets(owner, query);
    EXPECT_TRUE(found) << found.error().message;
    return found ? *found : std::unordered_set<std::int64_t>{-1};
  }

  std::int64_t count(const std::string& sql) {
    auto n = test_support::query_number(*db_, sql);
    return n ? *n : -1;
  }

  void drain() {
    auto report = queue_->run_until_idle();
    ASSERT_TRUE(report) << report.error().message;
  }

  std::int64_t completed_ocr_jobs() {
    auto status = queue_->status(jobs::queue::kOcr);
    return status ? status->counts.completed : -1;
  }

  test_support::TestDatabase database_{GetParam()};
  fs::path dir_;
  int assets_made_ = 0;
  FakeMl ml_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<settings::SettingsStore> settings_;
  std::unique_ptr<library::AssetRepository> assets_;
  std::unique_ptr<TextSearchService> service_;
  std::unique_ptr<jobs::JobQueue> queue_;
};

TEST_P(TextSearchTest, LinesAreStoredAndFoundByTheirWords) {
  const std::int64_t sign = add_asset({"Café de la Gare", "OPEN 7 DAYS"});
  const std::int64_t receipt = add_asset({"Total 12.50 EUR", "Thank you"});
  const std::int64_t chinese = add_asset({"北京欢迎你"});
  for (std::int64_t id : {sign, receipt, chinese}) {
    auto outcome = service_->process(id);
    ASSERT_TRUE(outcome) << outcome.error().message;
    EXPECT_EQ(*outcome, OcrOutcome::kSuccess);
  }
  EXPECT_EQ(ml_.last_model, "PP-OCRv5_mobile");  // machineLearning.ocr defaults
  EXPECT_DOUBLE_EQ(ml_.last_options.min_detection_score, 0.5);
  EXPECT_EQ(ml_.last_options.max_resolution, 736);
  EXPECT_DOUBLE_EQ(ml_.last_options.min_recognition_score, 0.8);

  auto lines = service_->lines(sign);
  ASSERT_TRUE(lines);
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[0].text, "Café de la Gare");
  EXPECT_FLOAT_EQ((*lines)[0].box[2], 0.6f);
  EXPECT_FLOAT_EQ((*lines)[1].text_score, 0.95f);
  EXPECT_EQ(count("SELECT count(*) FROM asset_job_status WHERE ocr_at IS NOT NULL"), 3);

  using Ids = std::unordered_set<std::int64_t>;
  EXPECT_EQ(find("cafe"), Ids{sign});       // accents and case folded
  EXPECT_EQ(find("GARE open"), Ids{sign});  // a phrase across lines
  EXPECT_EQ(find("tota1"), Ids{receipt});   // OCR noise: one wrong character of five still matches
  EXPECT_EQ(find("北京"), Ids{chinese});    // CJK bigrams
  EXPECT_EQ(find("zebra"), Ids{});
  EXPECT_EQ(find("cafe", 2), Ids{});  // another owner's photos
  EXPECT_EQ(service_->matching_assets(1, "?!").error().kind, ErrorKind::kBadRequest);

  // Reading a photo again replaces its lines; a deleted asset leaves no search row behind.
  ml_.texts["preview-" + std::to_string(sign)] = {"Closed"};
  ASSERT_TRUE(service_->process(sign));
  EXPECT_EQ(find("cafe"), Ids{});
  EXPECT_EQ(find("closed"), Ids{sign});
  EXPECT_EQ(count("SELECT count(*) FROM asset_ocr WHERE asset_id = " + std::to_string(sign)), 1);
  ASSERT_TRUE(db_->write([&](store::Connection& c) {
    return c.exec("DELETE FROM asset WHERE id = " + std::to_string(receipt));
  }));
  EXPECT_EQ(count("SELECT count(*) FROM ocr_search WHERE rowid = " + std::to_string(receipt)), 0);
  EXPECT_EQ(count("SELECT count(*) FROM asset_ocr WHERE asset_id = " + std::to_string(receipt)), 0);
}

TEST_P(TextSearchTest, TheSearchTableIsRebuiltFromTheStoredLines) {
  const std::int64_t sign = add_asset({"Café de la Gare", "OPEN 7 DAYS"});
  const std::int64_t blank = add_asset({});  // nothing read: no search row
  const std::int64_t chinese = add_asset({"北京欢迎你"});
  for (std::int64_t id : {sign, blank, chinese}) ASSERT_TRUE(service_->process(id));
  const auto rows = [&] {
    return db_->read([](store::Connection& c) {
      return store::query<std::int64_t, std::string>(c, "SELECT rowid, text FROM ocr_search ORDER BY rowid");
    });
  };
  auto before = rows();
  ASSERT_TRUE(before) << before.error().message;
  ASSERT_EQ(before->size(), 2U);
  ASSERT_TRUE(db_->write([](store::Connection& c) { return c.exec("DELETE FROM ocr_search"); }));
  ASSERT_TRUE(rebuild_search_index(*db_));
  EXPECT_EQ(*rows(), *before);
  EXPECT_EQ(find("gare open"), std::unordered_set<std::int64_t>{sign});
}

TEST_P(TextSearchTest, OutcomesForHiddenMissingAndUnreachable) {
  const std::int64_t hidden = add_asset({"secret"}, 1, "hidden");
  auto skipped = service_->process(hidden);
  ASSERT_TRUE(skipped);
  EXPECT_EQ(*skipped, OcrOutcome::kSkipped);
  auto missing = service_->process(999);
  ASSERT_TRUE(missing);
  EXPECT_EQ(*missing, OcrOutcome::kFailed);
  const std::int64_t photo = add_asset({"Harbour"});
  fs::remove(dir_ / "thumbs" / (std::to_string(photo) + ".jpg"));
  auto no_preview = service_->process(photo);
  ASSERT_TRUE(no_preview);
  EXPECT_EQ(*no_preview, OcrOutcome::kFailed);
  const std::int64_t other = add_asset({"Harbour"});
  ml_.down = true;
  auto unreachable = service_->process(other);
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().kind, ErrorKind::kUnavailable);  // the queue retries it later
  EXPECT_EQ(count("SELECT count(*) FROM asset_ocr"), 0);
}

TEST_P(TextSearchTest, QueueAllMissingThenAllAndNothingWhenOff) {
  for (int i = 0; i < 3; ++i) add_asset({"line " + std::to_string(i)});
  add_asset({"hidden"}, 1, "hidden");
  ASSERT_TRUE(queue_->enqueue(jobs::JobRequest(std::string(jobs::job::kOcrQueueAll), {{"force", false}})));
  drain();
  EXPECT_EQ(ml_.calls, 3);
  EXPECT_EQ(count("SELECT count(*) FROM asset_ocr"), 3);
  const std::int64_t after_all = completed_ocr_jobs();

  // Missing: nothing left to read. All: every visible asset again, the same lines.
  ASSERT_TRUE(queue_->enqueue(jobs::JobRequest(std::string(jobs::job::kOcrQueueAll), {{"force", false}})));
  drain();
  EXPECT_EQ(ml_.calls, 3);
  ASSERT_TRUE(queue_->enqueue(jobs::JobRequest(std::string(jobs::job::kOcrQueueAll), {{"force", true}})));
  drain();
  EXPECT_EQ(ml_.calls, 6);
  EXPECT_EQ(count("SELECT count(*) FROM asset_ocr"), 3);

  // ML off (all of it, or OCR alone): queue-all queues nothing, an upload's Ocr job is skipped unread.
  for (const char* key : {"machineLearning.enabled", "machineLearning.ocr.enabled"}) {
    ASSERT_TRUE(settings_->reset_path(""));
    ASSERT_TRUE(settings_->set_path(key, "false"));
    const std::int64_t before = completed_ocr_jobs();
    ASSERT_TRUE(queue_->enqueue(jobs::JobRequest(std::string(jobs::job::kOcrQueueAll), {{"force", true}})));
    ASSERT_TRUE(queue_->enqueue(jobs::JobRequest(std::string(jobs::job::kOcr), {{"id", 1}})));
    drain();
    EXPECT_EQ(completed_ocr_jobs() - before, 2) << key;  // the two jobs above, no Ocr job queued by them
    EXPECT_EQ(ml_.calls, 6) << key;
  }
  EXPECT_GT(after_all, 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, TextSearchTest, test_support::engines(), test_support::engine_name);

}  // namespace
}  // namespace focal::text_search
