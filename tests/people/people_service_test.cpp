// SPDX-License-Identifier: AGPL-3.0-or-later
// PeopleService on a real SQLite database: face detection (with a fake ML client), the recognition jobs on
// the durable queue, people operations and person thumbnails.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>
#include <vips/vips8>

#include "image/decode.h"
#include "jobs/jobs.h"
#include "library/library.h"
#include "ml_client/ml_client.h"
#include "people/detection.h"
#include "people/face_index.h"
#include "people/people.h"
#include "server/api.h"
#include "server/routes.h"
#include "settings/settings.h"
#include "store/database.h"
#include "store/query.h"
#include "support/library_test_helpers.h"
#include "support/test_database.h"
#include "synthetic_faces.h"

namespace focal::people {
namespace {

// 'YYYY-MM-DD' as ms since the epoch at 00:00 UTC.
std::int64_t utc_midnight_ms(const std::string& date) {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  EXPECT_EQ(std::sscanf(date.c_str(), "%d-%u-%u", &year, &month, &day), 3) << date;
  const std::chrono::sys_days midnight{std::chrono::year{year} / std::chrono::month{month} /
                                       std::chrono::day{day}};
  return std::chrono::duration_cast<std::chrono::milliseconds>(midnight.time_since_epoch()).count();
}

constexpr std::int64_t kOwner = 1;  // the user whose library these tests build

namespace fs = std::filesystem;

class FakeMl final : public test_support::UnavailableMl {
 public:
  Expected<ml::FaceDetection> detect_faces(std::string_view, std::string_view, double min_score,
                                           std::string_view image) override {
    ++calls;
    last_min_score = min_score;
    if (down) return Error{ErrorKind::kUnavailable, "Machine learning request failed for all URLs"};
    auto it = results.find(std::string(image));
    if (it == results.end()) return ml::FaceDetection{1440, 720, {}};
    return it->second;
  }
  std::map<std::string, ml::FaceDetection> results;  // preview bytes -> answer
  bool down = false;
  int calls = 0;
  double last_min_score = 0;
};

// Runs on both engines, and on PostgreSQL with the face vectors in pgvector.
class PeopleServiceTest : public ::testing::TestWithParam<test_support::Backend> {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(init_image_decoding("focal_people_tests")); }

  void SetUp() override {
    FOCAL_REQUIRE_DATABASE(database_);
    dir_ = database_.dir();
    db_ = database_.open();
    ASSERT_NE(db_, nullptr);
    ASSERT_TRUE(library::migrate(*db_));
    ASSERT_TRUE(jobs::migrate(*db_));
    ASSERT_TRUE(settings::migrate(*db_));
    ASSERT_TRUE(migrate(*db_));
    jobs::JobQueueOptions options;
    options.poll_interval = std::chrono::milliseconds(20);
    auto queue = jobs::JobQueue::open(*db_, options);
    ASSERT_TRUE(queue) << queue.error().message;
    queue_ = std::move(*queue);
    auto settings = settings::SettingsStore::open(*db_, {});
    ASSERT_TRUE(settings) << settings.error().message;
    settings_ = std::move(*settings);
    assets_ = std::make_unique<library::AssetRepository>(*db_, dir_);
    restart_people();
  }

  // A new PeopleService on the same library, as after a restart; `pgvector` as FOCAL_VECTOR_INDEX=pgvector.
  void restart_people(bool pgvector = GetParam().pgvector) {
    people_.reset();
    PeopleOptions options{dir_};
    options.pgvector = pgvector;
    auto people = PeopleService::create(*db_, *queue_, *settings_, ml_, *assets_, options);
    ASSERT_TRUE(people) << people.error().message;
    people_ = std::move(*people);
  }

  void TearDown() override {
    people_.reset();
    queue_.reset();
    settings_.reset();
    assets_.reset();
    db_.reset();
  }

  // An asset of 2880x1440 with a distinct 1440x720 preview; `date` is 'YYYY-MM-DD'.
  AssetId add_asset(const std::string& date = "2021-06-01", const std::string& visibility = "timeline",
                    std::int64_t owner = kOwner) {
    const int n = ++assets_made_;
    const fs::path preview = dir_ / "thumbs" / (std::to_string(n) + ".jpeg");
    fs::create_directories(preview.parent_path());
    vips::VImage image =
        vips::VImage::black(1440, 720, vips::VImage::option()->set("bands", 3)) + (n * 7 % 200);
    image.cast(VIPS_FORMAT_UCHAR).jpegsave(preview.c_str());
    std::ifstream in(preview, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    const std::string bytes = buffer.str();
    AssetId id = 0;
    Status written = db_->write([&](store::Connection& c) -> Status {
      auto s = c.prepare(
          "INSERT INTO asset (visibility, original_path, original_file_name, checksum, width, height, "
          "file_created_at, created_at, updated_at, status, owner_id) VALUES (?, ?, ?, ?, 2880, 1440, ?, 0, "
          "0, "
          "'ready', ?)");
      if (!s) return s.error();
      s->bind(1, visibility)
          .bind(2, "/photos/" + std::to_string(n) + ".jpg")
          .bind(3, std::to_string(n) + ".jpg");
      s->bind(4, "sum" + std::to_string(n)).bind(5, utc_midnight_ms(date)).bind(6, owner);
      if (Status r = s->run(); !r) return r;
      id = c.last_insert_rowid();
      auto f = c.prepare("INSERT INTO asset_file (asset_id, type, path) VALUES (?, 'preview', ?)");
      if (!f) return f.error();
      f->bind(1, id).bind(2, fs::relative(preview, dir_).string());
      if (Status r = f->run(); !r) return r;
      auto j = c.prepare("INSERT INTO asset_job_status (asset_id, metadata_extracted_at) VALUES (?, 1)");
      if (!j) return j.error();
      j->bind(1, id);
      return j->run();
    });
    EXPECT_TRUE(written) << written.error().message;
    previews_[id] = bytes;
    return id;
  }

  void set_faces(AssetId asset, std::vector<ml::DetectedFace> faces) {
    ml_.results[previews_.at(asset)] = ml::FaceDetection{1440, 720, std::move(faces)};
  }

  static ml::DetectedFace face_at(int x, std::vector<float> embedding, float score = 0.9f) {
    return ml::DetectedFace{ml::BoundingBox{x, 100, x + 200, 300}, score, std::move(embedding)};
  }

  void drain() {
    auto report = queue_->run_until_idle();
    ASSERT_TRUE(report) << report.error().message;
  }

  std::int64_t count(const std::string& sql) {
    auto n = test_support::query_number(*db_, sql);
    EXPECT_TRUE(n);
    return n ? *n : -1;
  }

  int assets_made_ = 0;
  test_support::TestDatabase database_{GetParam()};
  fs::path dir_;
  FakeMl ml_;
  std::map<AssetId, std::string> previews_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<jobs::JobQueue> queue_;
  std::unique_ptr<settings::SettingsStore> settings_;
  std::unique_ptr<library::AssetRepository> assets_;
  std::unique_ptr<PeopleService> people_;
};

TEST_P(PeopleServiceTest, DetectionStoresFacesScaledToTheAssetAndQueuesRecognition) {
  std::mt19937_64 rng(1);
  AssetId asset = add_asset();
  set_faces(asset, {face_at(100, synthetic::random_unit(rng)), face_at(700, synthetic::random_unit(rng))});
  auto found = people_->detect_faces(asset);
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(*found, 2);
  EXPECT_DOUBLE_EQ(ml_.last_min_score, 0.7);
  auto faces = people_->faces_of_asset(kOwner, asset);
  ASSERT_TRUE(faces);
  ASSERT_EQ(faces->size(), 2u);
  // Preview 1440x720 -> asset 2880x1440: boxes doubled, image size = the asset's.
  EXPECT_EQ((*faces)[0].box, (Box{200, 200, 600, 600}));
  EXPECT_EQ((*faces)[0].image_width, 2880);
  EXPECT_EQ((*faces)[0].image_height, 1440);
  EXPECT_EQ((*faces)[0].source, FaceSource::kMachineLearning);
  EXPECT_NEAR((*faces)[0].score, 0.9, 1e-6);
  EXPECT_TRUE((*faces)[0].has_embedding);
  EXPECT_EQ(count("SELECT count(*) FROM face_search"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM asset_job_status WHERE faces_recognized_at IS NOT NULL"), 1);
  // The barrier once, then one job per new face.
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE name = 'FacialRecognitionQueueAll'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE name = 'FacialRecognition'"), 2);

  // Re-run (Refresh) with the same answer: nothing new, no second embedding, the barrier is not re-queued.
  auto again = people_->detect_faces(asset);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(count("SELECT count(*) FROM asset_face"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM face_search"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM job WHERE name = 'FacialRecognition'"), 2);

  // One face no longer detected (below minScore now): removed.
  set_faces(asset, {face_at(100, synthetic::random_unit(rng))});
  ASSERT_TRUE(people_->detect_faces(asset));
  EXPECT_EQ(count("SELECT count(*) FROM asset_face"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM face_search"), 1);
}

TEST_P(PeopleServiceTest, DetectionErrors) {
  AssetId asset = add_asset();
  ml_.down = true;
  auto down = people_->detect_faces(asset);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().kind, ErrorKind::kUnavailable);  // the queue retries it
  EXPECT_EQ(count("SELECT count(*) FROM asset_job_status WHERE faces_recognized_at IS NOT NULL"), 0);
  ml_.down = false;
  EXPECT_EQ(people_->detect_faces(9999).error().kind, ErrorKind::kNotFound);
  AssetId hidden = add_asset("2021-01-01", "hidden");
  auto skipped = people_->detect_faces(hidden);
  ASSERT_TRUE(skipped);
  EXPECT_EQ(*skipped, 0);
  ASSERT_TRUE(settings_->set_path("machineLearning.facialRecognition.enabled", "false"));
  const int calls = ml_.calls;
  ASSERT_TRUE(people_->detect_faces(asset));
  EXPECT_EQ(ml_.calls, calls);
}

TEST_P(PeopleServiceTest, PipelineClustersNamesMergesAndHides) {
  std::mt19937_64 rng(42);
  std::vector<std::vector<float>> centres;
  for (int i = 0; i < 3; ++i) centres.push_back(synthetic::random_unit(rng));
  // Identity 0 and 1 in 4 photos each, identity 2 in 3 photos; two identities per photo at most.
  std::vector<AssetId> assets;
  for (int p = 0; p < 4; ++p) {
    AssetId a = add_asset("2021-06-0" + std::to_string(p + 1));
    std::vector<ml::DetectedFace> faces{
        face_at(100, synthetic::at_angle(rng, centres[0], synthetic::degrees(25))),
        face_at(700, synthetic::at_angle(rng, centres[1], synthetic::degrees(25)))};
    if (p < 3) faces.push_back(face_at(1100, synthetic::at_angle(rng, centres[2], synthetic::degrees(25))));
    set_faces(a, faces);
    assets.push_back(a);
  }
  auto queued = people_->queue_detect_faces(false);  // Missing
  ASSERT_TRUE(queued);
  EXPECT_EQ(queued->queued, 4);
  drain();
  EXPECT_EQ(count("SELECT count(*) FROM asset_face"), 11);
  EXPECT_EQ(count("SELECT count(*) FROM person"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM asset_face WHERE person_id IS NULL"), 0);
  EXPECT_EQ(count("SELECT count(DISTINCT person_id) FROM asset_face WHERE x1 = 200"), 1);  // identity 0

  auto page = people_->list(kOwner, PeopleQuery{});
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->people.size(), 3u);
  EXPECT_EQ(page->total, 3);
  EXPECT_EQ(page->people[2].face_count, 3);  // most faces first
  for (const Person& p : page->people) {
    EXPECT_FALSE(p.thumbnail_path.empty()) << p.id;
    ASSERT_TRUE(fs::exists(p.thumbnail_path)) << p.thumbnail_path;
    vips::VImage thumb = vips::VImage::new_from_file(p.thumbnail_path.c_str());
    EXPECT_EQ(thumb.width(), 250);
    EXPECT_EQ(thumb.height(), 250);
  }

  // Name, birth date (not in the future), hide.
  const PersonId small = page->people[2].id;
  PersonUpdate rename;
  rename.name = "Ada";
  ASSERT_TRUE(people_->update(kOwner, small, rename));
  PersonUpdate future;
  future.birth_date = "2999-01-01";
  auto rejected = people_->update(kOwner, small, future);
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().message, "Birth date cannot be in the future");
  page = people_->list(kOwner, PeopleQuery{});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->people[0].name, "Ada");  // named first
  PersonUpdate hide;
  hide.is_hidden = true;
  ASSERT_TRUE(people_->update(kOwner, small, hide));
  page = people_->list(kOwner, PeopleQuery{});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->people.size(), 2u);
  EXPECT_EQ(page->hidden, 1);
  PeopleQuery with_hidden;
  with_hidden.with_hidden = true;
  page = people_->list(kOwner, with_hidden);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->people.size(), 3u);
  EXPECT_EQ(page->people.back().id, small);  // hidden last
  // Unnamed people below the minimum are left out.
  PeopleQuery strict = with_hidden;
  strict.min_faces = 5;
  page = people_->list(kOwner, strict);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->people.size(), 1u);  // only "Ada"

  // Search by people: assets containing ALL of them.
  const PersonId a = page->people[0].id;
  // Identity 0 (the faces at x1 = 200), picked by face rather than by list position: identities 0 and 1 both
  // have 4 faces, so their order in the list depends on which recognition job created its person first.
  const PersonId b = count("SELECT DISTINCT person_id FROM asset_face WHERE x1 = 200");
  const PersonId ids[] = {a, b};
  auto shared = people_->assets_with_people(kOwner, ids);
  ASSERT_TRUE(shared);
  EXPECT_EQ(shared->size(), 3u);
  const PersonId unknown[] = {12345};
  EXPECT_EQ(people_->assets_with_people(kOwner, unknown).error().kind, ErrorKind::kNotFound);

  // Merge: the sources' faces move, the sources go, a new photo of a merged identity joins the target.
  const PersonId self[] = {b};
  EXPECT_EQ(people_->merge(kOwner, b, self).error().kind, ErrorKind::kBadRequest);
  const PersonId source[] = {a, 999};
  auto merged = people_->merge(kOwner, b, source);
  ASSERT_TRUE(merged);
  EXPECT_EQ((*merged)[0].status, MergeStatus::kSuccess);
  EXPECT_EQ((*merged)[1].status, MergeStatus::kNotFound);
  EXPECT_EQ(count("SELECT count(*) FROM person"), 2);
  auto target = people_->get(kOwner, b);
  ASSERT_TRUE(target);
  EXPECT_EQ(target->name, "Ada");  // copied: the target had no name
  EXPECT_EQ(target->face_count, 7);
  AssetId later = add_asset("2022-01-01");
  set_faces(later, {face_at(100, synthetic::at_angle(rng, centres[2], synthetic::degrees(25))),
                    face_at(700, synthetic::at_angle(rng, centres[0], synthetic::degrees(25)))});
  ASSERT_TRUE(people_->detect_faces(later));
  drain();
  auto fresh = people_->faces_of_asset(kOwner, later);
  ASSERT_TRUE(fresh);
  for (const Face& f : *fresh) EXPECT_EQ(f.person_id, b);  // identity 0 is b, identity 2 was merged into b
  (void)assets;
}

TEST_P(PeopleServiceTest, FacesClusterOnlyWithTheSameOwnersFaces) {
  std::mt19937_64 rng(7);
  const std::vector<float> centre = synthetic::random_unit(rng);
  // The same person photographed by two users, three photos each: one person per user, never shared. Every
  // face is detected before recognition runs: a recognition queue that drained while detection still ran would
  // leave early faces unassigned until the next run (timing, not scoping).
  for (std::int64_t owner : {kOwner, kOwner + 1}) {
    for (int p = 0; p < 3; ++p) {
      AssetId a = add_asset("2021-06-0" + std::to_string(p + 1), "timeline", owner);
      set_faces(a, {face_at(100, synthetic::at_angle(rng, centre, synthetic::degrees(15)))});
      ASSERT_TRUE(people_->detect_faces(a));
    }
  }
  drain();
  EXPECT_EQ(count("SELECT count(*) FROM person"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM person p WHERE EXISTS (SELECT 1 FROM asset_face f JOIN asset a ON "
                  "a.id = f.asset_id WHERE f.person_id = p.id AND a.owner_id != p.owner_id)"),
            0);
  auto mine = people_->list(kOwner, PeopleQuery{});
  auto theirs = people_->list(kOwner + 1, PeopleQuery{});
  ASSERT_TRUE(mine && theirs);
  ASSERT_EQ(mine->people.size(), 1u);
  ASSERT_EQ(theirs->people.size(), 1u);
  EXPECT_EQ(mine->people[0].face_count, 3);
  const PersonId their_person = theirs->people[0].id;
  // Another user's person is unknown to every operation.
  EXPECT_EQ(people_->get(kOwner, their_person).error().kind, ErrorKind::kNotFound);
  PersonUpdate rename;
  rename.name = "Mallory";
  EXPECT_EQ(people_->update(kOwner, their_person, rename).error().kind, ErrorKind::kNotFound);
  const PersonId sources[] = {their_person};
  auto merged = people_->merge(kOwner, mine->people[0].id, sources);
  ASSERT_TRUE(merged);
  EXPECT_EQ((*merged)[0].status, MergeStatus::kNotFound);
  EXPECT_EQ(people_->remove(kOwner, their_person).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(people_->assets_with_people(kOwner, sources).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(people_->get(kOwner + 1, their_person)->face_count, 3);
}

TEST_P(PeopleServiceTest, FaceModelsOfAnySizeClusterOnlyWithinTheirModel) {
  std::mt19937_64 rng(11);
  // A 128-d recognizer (MobileFaceNet's size) serving buffalo_l: one identity in three photos.
  const std::vector<float> small_centre = synthetic::random_unit(rng, 128);
  std::vector<AssetId> first;
  for (int p = 0; p < 3; ++p) {
    first.push_back(add_asset("2021-06-0" + std::to_string(p + 1)));
    set_faces(first.back(), {face_at(100, synthetic::at_angle(rng, small_centre, synthetic::degrees(15)))});
  }
  ASSERT_TRUE(people_->queue_detect_faces(false));
  drain();
  EXPECT_EQ(count("SELECT count(*) FROM person"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM face_search WHERE model = 'buffalo_l' AND dim = 128"), 3);

  // buffalo_l's files replaced by a 512-d recognizer: refused with a remedy, never mixed in.
  const AssetId replaced = add_asset("2021-07-01");
  set_faces(replaced, {face_at(100, synthetic::random_unit(rng))});
  auto refused = people_->detect_faces(replaced);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnprocessable);
  EXPECT_NE(refused.error().message.find("Face model buffalo_l returned embeddings of 512 values, but this "
                                         "library's faces from buffalo_l have 128"),
            std::string::npos)
      << refused.error().message;
  EXPECT_EQ(count("SELECT count(*) FROM asset_face WHERE asset_id = " + std::to_string(replaced)), 0);

  // Another model with 512-d embeddings: its faces cluster among themselves, apart from buffalo_l's.
  ASSERT_TRUE(settings_->set_path("machineLearning.facialRecognition.modelName", "buffalo_s"));
  const std::vector<float> big_centre = synthetic::random_unit(rng);
  for (int p = 0; p < 3; ++p) {
    const AssetId a = add_asset("2021-08-0" + std::to_string(p + 1));
    set_faces(a, {face_at(100, synthetic::at_angle(rng, big_centre, synthetic::degrees(15)))});
  }
  ASSERT_TRUE(people_->queue_detect_faces(false));
  drain();
  EXPECT_EQ(count("SELECT count(*) FROM face_search WHERE model = 'buffalo_s' AND dim = 512"), 4);
  EXPECT_EQ(count("SELECT count(*) FROM person"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM person p WHERE (SELECT count(DISTINCT fs.model) FROM asset_face f "
                  "JOIN face_search fs ON fs.face_id = f.id WHERE f.person_id = p.id) > 1"),
            0);
  // Refresh with buffalo_s re-embeds the first photos' faces (same boxes): their 128-d rows are replaced,
  // so one face has one embedding row, of the configured model.
  for (AssetId a : first)
    set_faces(a, {face_at(100, synthetic::at_angle(rng, big_centre, synthetic::degrees(15)))});
  ASSERT_TRUE(people_->queue_detect_faces(std::nullopt));
  drain();
  EXPECT_EQ(count("SELECT count(*) FROM face_search WHERE model = 'buffalo_l'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM face_search"), count("SELECT count(*) FROM asset_face"));
  EXPECT_EQ(count("SELECT count(*) FROM face_search WHERE dim = 512"), 7);
}

TEST_P(PeopleServiceTest, EmbeddingsFromBeforeModelsWereRecordedAreAdoptedByTheConfiguredModel) {
  std::mt19937_64 rng(5);
  const std::vector<float> centre = synthetic::random_unit(rng);
  for (int p = 0; p < 2; ++p) {
    const AssetId a = add_asset("2021-06-0" + std::to_string(p + 1));
    set_faces(a, {face_at(100, synthetic::at_angle(rng, centre, synthetic::degrees(15)))});
  }
  ASSERT_TRUE(people_->queue_detect_faces(false));
  drain();
  EXPECT_EQ(count("SELECT count(*) FROM person"), 0);  // two faces: below minFaces
  // Rows as migration v3 leaves an older library's: no model.
  ASSERT_TRUE(db_->write([](store::Connection& c) { return c.exec("UPDATE face_search SET model = ''"); }));
  restart_people();
  EXPECT_EQ(count("SELECT count(*) FROM face_search WHERE model = 'buffalo_l'"), 2);
  const AssetId third = add_asset("2021-06-03");
  set_faces(third, {face_at(100, synthetic::at_angle(rng, centre, synthetic::degrees(15)))});
  ASSERT_TRUE(people_->queue_detect_faces(false));
  drain();
  // A person needs minFaces (3) faces within maxDistance: only the adopted faces make up the number.
  EXPECT_EQ(count("SELECT count(*) FROM person"), 1);
}

// PostgreSQL numbers face_search rows at insert, so a transaction that inserted early may commit after many
// higher-numbered rows (another process's). The in-memory face index must still take that row in.
TEST_P(PeopleServiceTest, FaceIndexTakesInARowThatCommitsAfterHigherNumberedOnes) {
  if (GetParam().engine != store::Engine::kPostgres || GetParam().pgvector)
    GTEST_SKIP() << "PostgreSQL with the in-memory index only";
  const AssetId asset = add_asset();
  std::mt19937_64 rng(21);
  auto add_face = [&](store::Connection& c) -> Status {
    auto face = store::query_value<std::int64_t>(c,
                                                 "INSERT INTO asset_face (asset_id, image_width, "
                                                 "image_height, x1, y1, x2, y2, created_at, updated_at) "
                                                 "VALUES (?, 1440, 720, 0, 0, 100, 100, 0, 0) RETURNING id",
                                                 asset);
    if (!face) return face.error();
    return store::exec(
        c, "INSERT INTO face_search (face_id, embedding, model, dim) VALUES (?, ?, 'buffalo_l', ?)", *face,
        store::Floats{synthetic::random_unit(rng)}, synthetic::kDim);
  };
  ASSERT_TRUE(db_->write(add_face));
  detail::FaceIndex index(*db_, {});
  ASSERT_TRUE(index.sync("buffalo_l"));
  ASSERT_EQ(index.size(), 1u);

  // A second process's transaction takes the next number and stays open while 100 rows after it commit.
  auto other = database_.open();
  ASSERT_NE(other, nullptr);
  std::promise<void> inserted;
  std::promise<void> release;
  std::thread slow([&] {
    Status written = other->write([&](store::Connection& c) -> Status {
      Status added = add_face(c);
      inserted.set_value();
      release.get_future().wait();
      return added;
    });
    EXPECT_TRUE(written) << written.error().message;
  });
  inserted.get_future().wait();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(db_->write(add_face));
  ASSERT_TRUE(index.sync("buffalo_l"));
  EXPECT_EQ(index.size(), 101u);
  release.set_value();
  slow.join();
  ASSERT_TRUE(index.sync("buffalo_l"));
  EXPECT_EQ(index.size(), 102u);
  EXPECT_EQ(count("SELECT count(*) FROM face_search"), 102);
}

TEST_P(PeopleServiceTest, RemovedFacesLeaveTheirPersonAndItsFeatureFaceMovesOn) {
  std::mt19937_64 rng(11);
  std::vector<float> centre = synthetic::random_unit(rng);
  for (int p = 0; p < 3; ++p) {
    AssetId a = add_asset();
    set_faces(a, {face_at(100, synthetic::at_angle(rng, centre, synthetic::degrees(20)))});
    ASSERT_TRUE(people_->detect_faces(a));
  }
  drain();
  auto listed = people_->list(kOwner, PeopleQuery{});
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->people.size(), 1u);
  const Person before = listed->people[0];
  ASSERT_EQ(before.face_count, 3);
  ASSERT_TRUE(before.feature_face_id);

  ASSERT_TRUE(people_->remove_face(kOwner, *before.feature_face_id));
  auto after = people_->get(kOwner, before.id);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->face_count, 2);
  ASSERT_TRUE(after->feature_face_id);
  EXPECT_NE(*after->feature_face_id, *before.feature_face_id);
  EXPECT_EQ(people_->face(kOwner, *before.feature_face_id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(count("SELECT count(*) FROM asset_face WHERE deleted_at IS NOT NULL AND person_id IS NULL"), 1);

  // Another owner's face, or one already removed: not found.
  EXPECT_EQ(people_->remove_face(kOwner + 1, *after->feature_face_id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(people_->remove_face(kOwner, *before.feature_face_id).error().kind, ErrorKind::kNotFound);
}

TEST_P(PeopleServiceTest, ReassignUnassignedCleanupAndReset) {
  std::mt19937_64 rng(7);
  std::vector<float> centre = synthetic::random_unit(rng);
  std::vector<AssetId> assets;
  for (int p = 0; p < 3; ++p) {
    AssetId a = add_asset();
    set_faces(a, {face_at(100, synthetic::at_angle(rng, centre, synthetic::degrees(25))),
                  face_at(800, synthetic::random_unit(rng))});  // a stranger per photo: stays unassigned
    assets.push_back(a);
    ASSERT_TRUE(people_->detect_faces(a));
  }
  drain();
  ASSERT_EQ(count("SELECT count(*) FROM person"), 1);
  auto unassigned = people_->unassigned_faces(kOwner, 100);
  ASSERT_TRUE(unassigned);
  ASSERT_EQ(unassigned->size(), 3u);
  // Give a stranger their own person, then move one face of the cluster to them.
  auto stranger = people_->reassign_face_to_new_person(kOwner, (*unassigned)[0].id);
  ASSERT_TRUE(stranger) << stranger.error().message;
  EXPECT_TRUE(stranger->feature_face_id);
  auto cluster = people_->list(kOwner, PeopleQuery{});
  ASSERT_TRUE(cluster);
  const PersonId main = cluster->people[0].id;
  const std::pair<PersonId, AssetId> move[] = {{main, assets[0]}};
  auto affected = people_->reassign(kOwner, stranger->id, move);
  ASSERT_TRUE(affected) << affected.error().message;
  auto main_after = people_->get(kOwner, main);
  ASSERT_TRUE(main_after);
  EXPECT_EQ(main_after->face_count, 2);
  ASSERT_TRUE(main_after->feature_face_id);
  auto feature = people_->face(kOwner, *main_after->feature_face_id);
  ASSERT_TRUE(feature);
  EXPECT_EQ(feature->person_id, main);  // the feature face followed the move
  auto stats = people_->asset_count(kOwner, stranger->id);
  ASSERT_TRUE(stats);
  EXPECT_EQ(*stats, 2);  // its own photo and the moved one

  // A person without faces is cleaned up (even one with no face rows at all, which Immich misses).
  auto empty = people_->create_person(kOwner, PersonUpdate{});
  ASSERT_TRUE(empty);
  auto removed = people_->cleanup();
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1);
  EXPECT_EQ(people_->get(kOwner, empty->id).error().kind, ErrorKind::kNotFound);

  // Recognition Reset: every ML face unassigned, people without faces deleted (named ones too), re-clustered.
  PersonUpdate name;
  name.name = "Named";
  ASSERT_TRUE(people_->update(kOwner, stranger->id, name));
  auto reset = people_->queue_recognition(true, false);
  ASSERT_TRUE(reset) << reset.error().message;
  EXPECT_EQ(reset->queued, 6);
  EXPECT_EQ(count("SELECT count(*) FROM person"), 0);
  drain();
  EXPECT_EQ(count("SELECT count(*) FROM person"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM asset_face WHERE person_id IS NOT NULL"), 3);

  // Nightly: nothing new since the last run -> skipped.
  auto nightly = people_->queue_recognition(false, true);
  ASSERT_TRUE(nightly);
  EXPECT_TRUE(nightly->skipped);

  // Detection Reset: ML faces deleted and every asset queued again.
  auto detect_reset = people_->queue_detect_faces(true);
  ASSERT_TRUE(detect_reset);
  EXPECT_EQ(detect_reset->queued, 3);
  EXPECT_EQ(count("SELECT count(*) FROM asset_face"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM person"), 0);
  drain();
  EXPECT_EQ(count("SELECT count(*) FROM asset_face"), 6);
  EXPECT_EQ(count("SELECT count(*) FROM person"), 1);
  if (GetParam()
          .pgvector) {  // each embedding's vector was written with it; the deleted ones went with theirs
    EXPECT_EQ(count("SELECT count(*) FROM face_search_vector v JOIN face_search s ON s.face_id = v.face_id "
                    "AND s.seq = v.version"),
              6);
    EXPECT_EQ(count("SELECT count(*) FROM face_search_vector"), 6);
  }
}

// Faces detected before FOCAL_VECTOR_INDEX=pgvector was set get their vectors, and the HNSW index, when a
// service with it starts; recognition then runs on them, and new faces' vectors are written with them.
TEST_P(PeopleServiceTest, FacesStoredBeforePgvectorGetTheirVectorsAtStart) {
  if (!GetParam().pgvector) GTEST_SKIP() << "pgvector only";
  restart_people(false);
  std::mt19937_64 rng(8);
  const std::vector<float> centre = synthetic::random_unit(rng);
  for (int p = 0; p < 3; ++p) {
    const AssetId a = add_asset("2021-06-0" + std::to_string(p + 1));
    set_faces(a, {face_at(100, synthetic::at_angle(rng, centre, synthetic::degrees(15))),
                  face_at(800, synthetic::random_unit(rng))});
  }
  ASSERT_TRUE(people_->queue_detect_faces(false));
  drain();
  ASSERT_EQ(count("SELECT count(*) FROM person"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM face_search_vector"), 0);

  restart_people(true);
  EXPECT_EQ(count("SELECT count(*) FROM face_search_vector WHERE model = 'buffalo_l' AND dim = 512"), 6);
  EXPECT_EQ(count("SELECT count(*) FROM pg_indexes WHERE indexname = 'face_search_vector_hnsw_512'"), 1);
  auto reset = people_->queue_recognition(true, false);
  ASSERT_TRUE(reset) << reset.error().message;
  drain();
  EXPECT_EQ(count("SELECT count(*) FROM person"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM asset_face WHERE person_id IS NOT NULL"), 3);

  const AssetId fourth = add_asset("2021-06-04");
  set_faces(fourth, {face_at(100, synthetic::at_angle(rng, centre, synthetic::degrees(15)))});
  ASSERT_TRUE(people_->queue_detect_faces(false));
  drain();
  EXPECT_EQ(count("SELECT count(*) FROM face_search_vector"), 7);
  EXPECT_EQ(count("SELECT count(*) FROM asset_face WHERE person_id IS NOT NULL"), 4);
}

TEST(PersonThumbnailCrop, FollowsSpec) {
  // A 100x50 face at (200,200) in a 1000x500 box image, decoded at 2000x1000: (400,400)-(600,500), centre
  // (500,450), half = floor(100 * 1.1) = 110.
  auto crop = person_thumbnail_crop(Box{200, 200, 300, 250}, 1000, 500, 2000, 1000);
  ASSERT_TRUE(crop);
  EXPECT_EQ(*crop, (CropRect{500 - 110, 450 - 110, 220}));
  // Near the edge the square shrinks to fit.
  crop = person_thumbnail_crop(Box{0, 0, 100, 100}, 1000, 1000, 1000, 1000);
  ASSERT_TRUE(crop);
  EXPECT_EQ(*crop, (CropRect{0, 0, 100}));
  // Boxes are clamped to the image first; an empty box has no crop.
  EXPECT_FALSE(person_thumbnail_crop(Box{10, 10, 10, 50}, 100, 100, 100, 100));
  EXPECT_FALSE(person_thumbnail_crop(Box{0, 0, 10, 10}, 0, 100, 100, 100));
}

TEST(Reconcile, BoxesWithNoAreaInsideTheImageAreNotFaces) {
  const DetectedFace detected[] = {
      {Box{24, 70, 28, 90}, 0.9, {1.f}},   // below the 100x66 image: clamps to zero height
      {Box{-30, 10, -5, 40}, 0.9, {2.f}},  // left of it
      {Box{10, 10, 10, 40}, 0.9, {3.f}},   // zero width
      {Box{10, 10, 40, 40}, 0.9, {4.f}},   // a face
  };
  const ReconcilePlan plan = reconcile_faces({}, detected, 100, 66, 100, 66);
  ASSERT_EQ(plan.insert.size(), 1u);
  EXPECT_EQ(plan.insert[0].box, (Box{10, 10, 40, 40}));
}

TEST(Reconcile, MatchesInTheAssetSpaceAndNeverDoubleAttaches) {
  // A manual face stored in original pixels (4000x2000) and an ML face stored in asset pixels (2000x1000).
  const StoredFace manual{1, FaceSource::kManual, Box{400, 400, 800, 800}, 4000, 2000, false};
  const StoredFace ml_face{2, FaceSource::kMachineLearning, Box{1000, 200, 1200, 400}, 2000, 1000, true};
  const StoredFace stale{3, FaceSource::kMachineLearning, Box{1500, 500, 1600, 600}, 2000, 1000, true};
  const StoredFace faces[] = {manual, ml_face, stale};
  // Detections on a 1000x500 preview: the manual face, the ML face, a new one, and a duplicate of the manual.
  const DetectedFace detected[] = {
      {Box{100, 100, 200, 200}, 0.9, {1.f}},
      {Box{500, 100, 600, 200}, 0.9, {2.f}},
      {Box{10, 10, 60, 60}, 0.8, {3.f}},
      {Box{102, 101, 201, 200}, 0.7, {4.f}},
  };
  ReconcilePlan plan = reconcile_faces(faces, detected, 1000, 500, 2000, 1000);
  ASSERT_EQ(plan.attach_embedding.size(), 1u);  // the manual face, once
  EXPECT_EQ(plan.attach_embedding[0].first, 1);
  EXPECT_EQ(plan.kept, std::vector<FaceId>{2});
  EXPECT_EQ(plan.remove, std::vector<FaceId>{3});
  ASSERT_EQ(plan.insert.size(), 2u);
  EXPECT_EQ(plan.insert[0].box, (Box{20, 20, 120, 120}));  // scaled preview -> asset
  EXPECT_EQ(plan.insert[0].image_width, 2000);
  EXPECT_TRUE(plan.changed());
  // Unknown asset size: the preview's size is used.
  ReconcilePlan same = reconcile_faces({}, detected, 1000, 500, 0, 0);
  EXPECT_EQ(same.insert[2].box, (Box{10, 10, 60, 60}));
  EXPECT_EQ(same.insert[0].image_width, 1000);
  EXPECT_NEAR(iou(Box{0, 0, 10, 10}, Box{5, 0, 15, 10}), 50.0 / 150.0, 1e-12);
}

}  // namespace
}  // namespace focal::people

// The REST routes, called in-process through the route table.
namespace focal::people {
namespace {

class PeopleRoutesTest : public PeopleServiceTest {
 protected:
  void SetUp() override {
    PeopleServiceTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    server::register_people_routes(api_, *people_);
  }

  Expected<server::ApiResponse> call(const std::string& method, const std::string& target,
                                     const std::string& body = "") {
    server::ApiRequest req;
    req.method = method;
    const auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::istringstream pairs(target.substr(q + 1));
      for (std::string pair; std::getline(pairs, pair, '&');) {
        const auto eq = pair.find('=');
        req.query.emplace(pair.substr(0, eq), eq == std::string::npos ? "" : pair.substr(eq + 1));
      }
    }
    body_ = body;
    req.body = body_;
    req.caller.user_id = caller_;
    auto route = api_.match(method, req.path, req.path_params);
    if (!route) return route.error();
    return (*route)->handler(req);
  }

  nlohmann::json json_of(const Expected<server::ApiResponse>& response) {
    EXPECT_TRUE(response) << response.error().message;
    return response ? nlohmann::json::parse(response->body) : nlohmann::json();
  }

  server::Api api_;
  std::string body_;
  std::int64_t caller_ = kOwner;
};

TEST_P(PeopleRoutesTest, ListRenameMergeAndErrors) {
  std::mt19937_64 rng(3);
  std::vector<float> c1 = synthetic::random_unit(rng), c2 = synthetic::random_unit(rng);
  for (int p = 0; p < 3; ++p) {
    AssetId a = add_asset();
    set_faces(a, {face_at(100, synthetic::at_angle(rng, c1, synthetic::degrees(20))),
                  face_at(700, synthetic::at_angle(rng, c2, synthetic::degrees(20)))});
    ASSERT_TRUE(people_->detect_faces(a));
  }
  drain();
  nlohmann::json list = json_of(call("GET", "/api/people"));
  ASSERT_EQ(list["people"].size(), 2u);
  EXPECT_EQ(list["total"], 2);
  EXPECT_EQ(list["hasNextPage"], false);
  const std::int64_t first = list["people"][0]["id"];
  const std::int64_t second = list["people"][1]["id"];
  EXPECT_EQ(list["people"][0]["thumbnailPath"], "/api/people/" + std::to_string(first) + "/thumbnail");

  nlohmann::json renamed = json_of(
      call("PUT", "/api/people/" + std::to_string(first), R"({"name":"Grace","birthDate":"1906-12-09"})"));
  EXPECT_EQ(renamed["name"], "Grace");
  EXPECT_EQ(renamed["birthDate"], "1906-12-09");
  auto future = call("PATCH", "/api/people/" + std::to_string(first), R"({"birthDate":"2999-01-01"})");
  ASSERT_FALSE(future);
  EXPECT_EQ(future.error().kind, ErrorKind::kBadRequest);
  auto bad_type = call("PUT", "/api/people/" + std::to_string(first), R"({"isHidden":"yes"})");
  ASSERT_FALSE(bad_type);
  EXPECT_EQ(bad_type.error().kind, ErrorKind::kBadRequest);
  EXPECT_EQ(call("GET", "/api/people/987654").error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(call("GET", "/api/people?size=0").error().kind, ErrorKind::kBadRequest);

  nlohmann::json stats = json_of(call("GET", "/api/people/" + std::to_string(first) + "/statistics"));
  EXPECT_EQ(stats["assets"], 3);
  auto thumb = call("GET", "/api/people/" + std::to_string(first) + "/thumbnail");
  ASSERT_TRUE(thumb) << thumb.error().message;
  EXPECT_EQ(thumb->content_type, "image/jpeg");
  EXPECT_TRUE(fs::exists(thumb->file));

  nlohmann::json found = json_of(call("GET", "/api/search/person?name=gra"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]["id"], first);

  auto self = call("POST", "/api/people/" + std::to_string(first) + "/merge",
                   "{\"ids\":[" + std::to_string(first) + "]}");
  ASSERT_FALSE(self);
  EXPECT_EQ(self.error().message, "Cannot merge a person into themselves");
  nlohmann::json merged = json_of(call("POST", "/api/people/" + std::to_string(first) + "/merge",
                                       "{\"ids\":[" + std::to_string(second) + "]}"));
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged[0]["success"], true);
  list = json_of(call("GET", "/api/people"));
  ASSERT_EQ(list["people"].size(), 1u);
  EXPECT_EQ(list["people"][0]["faceCount"], 6);

  nlohmann::json faces = json_of(call("GET", "/api/faces?id=1"));
  ASSERT_EQ(faces.size(), 2u);
  EXPECT_EQ(faces[0]["person"]["id"], first);
  EXPECT_EQ(faces[0]["sourceType"], "machine-learning");
  nlohmann::json fresh =
      json_of(call("POST", "/api/faces/" + std::to_string(faces[0]["id"].get<std::int64_t>()) + "/person"));
  EXPECT_EQ(fresh["faceCount"], 1);
  ASSERT_TRUE(call("DELETE", "/api/people/" + std::to_string(fresh["id"].get<std::int64_t>())));
  nlohmann::json unassigned = json_of(call("GET", "/api/faces/unassigned"));
  EXPECT_EQ(unassigned.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Engines, PeopleServiceTest, test_support::backends(), test_support::backend_name);
INSTANTIATE_TEST_SUITE_P(Engines, PeopleRoutesTest, test_support::backends(), test_support::backend_name);

}  // namespace
}  // namespace focal::people
