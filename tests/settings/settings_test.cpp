// SPDX-License-Identifier: AGPL-3.0-or-later
#include "settings/settings.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "store/database.h"
#include "support/test_database.h"

namespace focal::settings {
namespace {

using nlohmann::json;

TEST(SystemConfigTest, DefaultsMatchImmichExceptTheLocalMlUrlFirst) {
  const SystemConfig config = default_config({});
  const auto& ml = config.machine_learning;
  EXPECT_TRUE(ml.enabled);
  EXPECT_EQ(ml.urls,
            (std::vector<std::string>{"http://127.0.0.1:3003", "http://immich-machine-learning:3003"}));
  EXPECT_TRUE(ml.availability_checks.enabled);
  EXPECT_EQ(ml.availability_checks.timeout_ms, 2000);
  EXPECT_EQ(ml.availability_checks.interval_ms, 30000);
  EXPECT_EQ(ml.clip.model_name, "ViT-B-32__openai");
  EXPECT_DOUBLE_EQ(ml.duplicate_detection.max_distance, 0.01);
  EXPECT_EQ(ml.facial_recognition.model_name, "buffalo_l");
  EXPECT_DOUBLE_EQ(ml.facial_recognition.min_score, 0.7);
  EXPECT_DOUBLE_EQ(ml.facial_recognition.max_distance, 0.5);
  EXPECT_EQ(ml.facial_recognition.min_faces, 3);
  EXPECT_EQ(ml.ocr.model_name, "PP-OCRv5_mobile");
  EXPECT_EQ(ml.ocr.max_resolution, 736);
  EXPECT_EQ(queue_concurrency(config, "smartSearch"), 2);
  EXPECT_EQ(queue_concurrency(config, "faceDetection"), 2);
  EXPECT_EQ(queue_concurrency(config, "thumbnailGeneration"), 3);
  EXPECT_EQ(queue_concurrency(config, "metadataExtraction"), 5);
  EXPECT_EQ(queue_concurrency(config, "backgroundTask"), 5);
  EXPECT_EQ(queue_concurrency(config, "facialRecognition"), 1);
  EXPECT_EQ(queue_concurrency(config, "duplicateDetection"), 1);
  EXPECT_FALSE(config.job_concurrency.contains("facialRecognition"));
  EXPECT_EQ(config.nightly_tasks.start_time, "00:00");
  EXPECT_TRUE(config.nightly_tasks.cluster_new_faces);
  EXPECT_TRUE(config.validate().ok());
}

TEST(SystemConfigTest, EnvironmentDefaults) {
  const SystemConfig config =
      default_config({{"IMMICH_MACHINE_LEARNING_URL", "http://a:3003, http://b:3003/ml/"},
                      {"IMMICH_MACHINE_LEARNING_ENABLED", "false"}});
  EXPECT_EQ(config.machine_learning.urls, (std::vector<std::string>{"http://a:3003", "http://b:3003/ml/"}));
  EXPECT_FALSE(config.machine_learning.enabled);
  EXPECT_FALSE(smart_search_enabled(config));
  EXPECT_EQ(default_config({{"FOCAL_ML_URL", "http://c:1"}}).machine_learning.urls,
            std::vector<std::string>{"http://c:1"});
}

TEST(SystemConfigTest, FeaturePredicates) {
  SystemConfig config = default_config({});
  EXPECT_TRUE(smart_search_enabled(config));
  EXPECT_TRUE(duplicate_detection_enabled(config));
  config.machine_learning.clip.enabled = false;
  EXPECT_FALSE(smart_search_enabled(config));
  EXPECT_FALSE(duplicate_detection_enabled(config));  // duplicates need CLIP
  EXPECT_TRUE(facial_recognition_enabled(config));
  config.machine_learning.enabled = false;
  EXPECT_FALSE(facial_recognition_enabled(config));
  EXPECT_FALSE(ocr_enabled(config));
}

TEST(SystemConfigTest, ValidationNamesTheKey) {
  const SystemConfig defaults = default_config({});
  struct Case {
    json partial;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"machineLearning", {{"facialRecognition", {{"minScore", 0.05}}}}}},
       "machineLearning.facialRecognition.minScore must be between 0.1 and 1"},
      {{{"machineLearning", {{"facialRecognition", {{"maxDistance", 2.5}}}}}},
       "machineLearning.facialRecognition.maxDistance must be between 0.1 and 2"},
      {{{"machineLearning", {{"duplicateDetection", {{"maxDistance", 0.5}}}}}},
       "machineLearning.duplicateDetection.maxDistance must be between 0.001 and 0.1"},
      {{{"machineLearning", {{"facialRecognition", {{"minFaces", 0}}}}}},
       "machineLearning.facialRecognition.minFaces must be an integer >= 1"},
      {{{"machineLearning", {{"facialRecognition", {{"minFaces", 2.5}}}}}},
       "machineLearning.facialRecognition.minFaces must be an integer"},
      {{{"machineLearning", {{"urls", json::array()}}}},
       "machineLearning.urls must contain at least one URL"},
      {{{"machineLearning", {{"urls", {"ftp://x"}}}}},
       "machineLearning.urls: \"ftp://x\" is not an http(s) URL"},
      {{{"machineLearning", {{"clip", {{"enabled", "yes"}}}}}},
       "machineLearning.clip.enabled must be a boolean"},
      {{{"machineLearning", {{"clip", {{"modelName", "ViT-Nope"}}}}}},
       "Unknown CLIP model: ViT-Nope. Please check the model name for typos and confirm this is a supported "
       "model."},
      {{{"job", {{"smartSearch", {{"concurrency", 0}}}}}},
       "job.smartSearch.concurrency must be an integer >= 1"},
      {{{"nightlyTasks", {{"startTime", "24:00"}}}}, "nightlyTasks.startTime must be a time of day as HH:MM"},
  };
  for (const auto& c : cases) {
    auto config = from_json(c.partial, defaults);
    ASSERT_FALSE(config.ok()) << c.partial.dump();
    EXPECT_EQ(config.error().kind, ErrorKind::kBadRequest);
    EXPECT_EQ(config.error().message, c.message);
  }
}

TEST(SystemConfigTest, MergeReportsUnknownKeysAndDiffKeepsOnlyChanges) {
  const SystemConfig defaults = default_config({});
  std::vector<std::string> unknown;
  auto config = from_json({{"machineLearning", {{"clip", {{"modelName", "immich-app/ViT-B-16__openai"}}}}},
                           {"ffmpeg", {{"crf", 23}}},
                           {"job", {{"smartSearch", {{"concurrency", 4}}}}}},
                          defaults, &unknown);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(unknown, std::vector<std::string>{"ffmpeg"});
  EXPECT_EQ(queue_concurrency(*config, "smartSearch"), 4);
  EXPECT_EQ(config->machine_learning.facial_recognition.min_score, 0.7);  // untouched default
  const json diff = diff_json(*config, defaults);
  EXPECT_EQ(diff, json::parse(R"({"machineLearning":{"clip":{"modelName":"immich-app/ViT-B-16__openai"}},
                                  "job":{"smartSearch":{"concurrency":4}}})"));
  EXPECT_EQ(diff_json(defaults, defaults), json::object());
  // Round trip: the full JSON parses back to the same config.
  auto again = from_json(to_json(*config), defaults);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *config);
}

TEST(SystemConfigTest, ClipModelNames) {
  EXPECT_EQ(normalize_clip_model_name("immich-app/ViT-B-16-SigLIP2__webli"), "ViT-B-16-SigLIP2__webli");
  EXPECT_EQ(normalize_clip_model_name("ViT-B-32::openai"), "ViT-B-32__openai");
  EXPECT_EQ(clip_model_dimension("ViT-B-32__openai"), 512);
  EXPECT_EQ(clip_model_dimension("immich-app/ViT-L-14__openai"), 768);
  EXPECT_EQ(clip_model_dimension("ViT-SO400M-14-SigLIP-384__webli"), 1152);
  EXPECT_EQ(clip_model_dimension("ViT-gopt-16-SigLIP2-384__webli"), 1536);
  EXPECT_EQ(clip_model_dimension("nope"), std::nullopt);
}

TEST(SystemConfigTest, DottedPaths) {
  const SystemConfig defaults = default_config({});
  EXPECT_EQ(*get_path(defaults, "machineLearning.clip.modelName"), "ViT-B-32__openai");
  EXPECT_EQ(*get_path(defaults, "job.smartSearch.concurrency"), 2);
  EXPECT_FALSE(get_path(defaults, "machineLearning.nope").ok());

  auto changed = with_path(defaults, "machineLearning.clip.modelName", "ViT-B-16__openai");
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(changed->machine_learning.clip.model_name, "ViT-B-16__openai");
  changed = with_path(defaults, "machineLearning.facialRecognition.minScore", "0.5");
  ASSERT_TRUE(changed.ok());
  EXPECT_DOUBLE_EQ(changed->machine_learning.facial_recognition.min_score, 0.5);
  changed = with_path(defaults, "machineLearning.urls", "http://one:3003");
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->machine_learning.urls, std::vector<std::string>{"http://one:3003"});
  changed = with_path(defaults, "machineLearning.urls", R"(["http://a:1","http://b:2"])");
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->machine_learning.urls.size(), 2u);
  changed = with_path(defaults, "machineLearning.enabled", "false");
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(changed->machine_learning.enabled);

  changed = with_path(defaults, "machineLearning.facialRecognition.minScore", "abc");
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.error().message, "machineLearning.facialRecognition.minScore must be a number");
  changed = with_path(defaults, "machineLearning.facialRecognition.minScore", "7");
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.error().message, "machineLearning.facialRecognition.minScore must be between 0.1 and 1");
  EXPECT_FALSE(with_path(defaults, "machineLearning.clip", "1").ok());  // a group
  EXPECT_FALSE(with_path(defaults, "nope.key", "1").ok());
}

// Runs on both engines.
class SettingsStoreTest : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override {
    FOCAL_REQUIRE_DATABASE(database_);
    dir_ = database_.dir();
    db_ = database_.open();
    ASSERT_NE(db_, nullptr);
    ASSERT_TRUE(migrate(*db_).ok());
  }
  void TearDown() override { db_.reset(); }
  std::string stored() {
    auto text = db_->read([](store::Connection& c) -> Expected<std::string> {
      auto s = c.prepare("SELECT value FROM system_metadata WHERE key = 'system-config'");
      if (!s) return s.error();
      auto row = s->step();
      if (!row) return row.error();
      return *row ? s->text(0) : std::string();
    });
    return text.ok() ? *text : "<error>";
  }
  test_support::TestDatabase database_{GetParam()};
  std::filesystem::path dir_;
  std::unique_ptr<store::Database> db_;
};

TEST_P(SettingsStoreTest, StoresOnlyNonDefaultsAndNotifiesListeners) {
  auto settings = SettingsStore::open(*db_, {});
  ASSERT_TRUE(settings.ok()) << settings.error().message;
  auto& store = **settings;
  EXPECT_EQ(store.get(), default_config({}));
  int calls = 0;
  std::string seen_model;
  const int id = store.subscribe([&](const SystemConfig& old_config, const SystemConfig& new_config) {
    ++calls;
    EXPECT_EQ(old_config.machine_learning.clip.model_name, "ViT-B-32__openai");
    seen_model = new_config.machine_learning.clip.model_name;
  });
  ASSERT_TRUE(store.set_path("machineLearning.clip.modelName", "ViT-B-16__openai").ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen_model, "ViT-B-16__openai");
  EXPECT_EQ(json::parse(stored()),
            json::parse(R"({"machineLearning":{"clip":{"modelName":"ViT-B-16__openai"}}})"));
  EXPECT_EQ(*store.get_path("machineLearning.clip.modelName"), "ViT-B-16__openai");

  // Setting the same value again changes nothing and notifies nobody.
  ASSERT_TRUE(store.set_path("machineLearning.clip.modelName", "ViT-B-16__openai").ok());
  EXPECT_EQ(calls, 1);
  // An invalid value is refused and leaves the store alone.
  auto refused = store.set_path("machineLearning.facialRecognition.minScore", "0");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kBadRequest);
  EXPECT_EQ(calls, 1);

  store.unsubscribe(id);
  ASSERT_TRUE(store.reset_path("machineLearning.clip.modelName").ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(stored(), "{}");
  EXPECT_EQ(store.get().machine_learning.clip.model_name, "ViT-B-32__openai");
}

TEST_P(SettingsStoreTest, ReloadSeesAnotherWriterAndLogsUnknownKeys) {
  auto first = SettingsStore::open(*db_, {});
  auto second = SettingsStore::open(*db_, {});
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE((*first)->set_path("job.smartSearch.concurrency", "7").ok());
  EXPECT_EQ(queue_concurrency((*second)->get(), "smartSearch"), 2);  // cached
  int calls = 0;
  (*second)->subscribe([&](const SystemConfig&, const SystemConfig& now) {
    ++calls;
    EXPECT_EQ(queue_concurrency(now, "smartSearch"), 7);
  });
  auto fresh = (*second)->reload();
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(queue_concurrency(*fresh, "smartSearch"), 7);
  EXPECT_EQ(calls, 1);

  // A stored document with unknown keys still loads.
  ASSERT_TRUE(
      db_->write([](store::Connection& c) {
           return c.exec(
               "UPDATE system_metadata SET value = '{\"oauth\":{\"enabled\":true},\"machineLearning\":"
               "{\"enabled\":false}}' WHERE key = 'system-config'");
         })
          .ok());
  auto third = SettingsStore::open(*db_, {});
  ASSERT_TRUE(third.ok()) << third.error().message;
  EXPECT_FALSE((*third)->get().machine_learning.enabled);
}

TEST_P(SettingsStoreTest, InvalidStoredConfigFailsToOpen) {
  ASSERT_TRUE(db_->write([](store::Connection& c) {
                   return c.exec(
                       "INSERT INTO system_metadata VALUES ('system-config', "
                       "'{\"machineLearning\":{\"facialRecognition\":{\"minScore\":5}}}')");
                 })
                  .ok());
  auto settings = SettingsStore::open(*db_, {});
  ASSERT_FALSE(settings.ok());
  EXPECT_NE(settings.error().message.find("machineLearning.facialRecognition.minScore"), std::string::npos);
}

TEST_P(SettingsStoreTest, ConfigFileIsReadOnly) {
  const auto file = dir_ / "immich.json";
  std::ofstream(file) << R"({"machineLearning":{"urls":["http://file:3003"]}})";
  auto settings = SettingsStore::open(*db_, {{"IMMICH_CONFIG_FILE", file.string()}});
  ASSERT_TRUE(settings.ok()) << settings.error().message;
  EXPECT_EQ((*settings)->get().machine_learning.urls, std::vector<std::string>{"http://file:3003"});
  auto refused = (*settings)->set_path("machineLearning.enabled", "false");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "Cannot update configuration while IMMICH_CONFIG_FILE is in use");
}

INSTANTIATE_TEST_SUITE_P(Engines, SettingsStoreTest, test_support::engines(), test_support::engine_name);

}  // namespace
}  // namespace focal::settings
