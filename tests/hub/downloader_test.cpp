// SPDX-License-Identifier: AGPL-3.0-or-later
// ModelDownloader against an in-process fake Hugging Face hub (tests/support/http_test_server.h): tree API, resolve with
// redirects, wrong sizes and hashes, a transfer cut off mid-body, 404 repos, offline mode, name policy,
// concurrency.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hub/hub.h"
#include "support/http_test_server.h"

namespace focal {
namespace {

namespace fs = std::filesystem;

std::string hex_digest(const EVP_MD* md, std::string_view prefix, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, md, nullptr);
  EVP_DigestUpdate(ctx, prefix.data(), prefix.size());
  EVP_DigestUpdate(ctx, data.data(), data.size());
  EVP_DigestFinal_ex(ctx, out, &n);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) hex += fmt::format("{:02x}", out[i]);
  return hex;
}

std::string sha256(std::string_view data) { return hex_digest(EVP_sha256(), "", data); }
std::string git_blob_sha1(std::string_view data) {
  const auto header = "blob " + std::to_string(data.size());
  return hex_digest(EVP_sha1(), std::string_view(header.c_str(), header.size() + 1), data);
}

struct RepoFileSpec {
  std::string content;
  bool lfs = false;
  long size_delta = 0;      // announce a wrong size
  bool wrong_hash = false;  // announce a wrong hash
};

// A fake hub: repos of files, served through /api/models/<org>/<repo>/revision/main, .../tree/<rev> and
// /<org>/<repo>/resolve/<rev>/<path>, which redirects to /cdn/<org>/<repo>/<path> for LFS files.
class FakeHub {
 public:
  static constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";

  FakeHub() {
    server_.fallback([this](const http::Request& req) { return route(req); });
    port_ = server_.start();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void add(const std::string& repo, const std::string& path, RepoFileSpec spec) {
    const std::lock_guard lock(mutex_);
    repos_[repo][path] = std::move(spec);
  }
  // The next `n` transfers of `path` are cut off after half the body.
  void interrupt(const std::string& path, int n) {
    const std::lock_guard lock(mutex_);
    interrupts_[path] = n;
  }
  void fail_tree(int n) {
    const std::lock_guard lock(mutex_);
    fail_tree_ = n;
  }
  void slow_files(std::chrono::milliseconds delay) { file_delay_ = delay; }
  // A plain file at /ocr/<path> (RapidOCR's model table layout); remembers the Authorization header it got.
  void add_ocr(const std::string& path, std::string content) {
    const std::lock_guard lock(mutex_);
    ocr_[path] = std::move(content);
  }
  std::string ocr_authorization() {
    const std::lock_guard lock(mutex_);
    return ocr_authorization_;
  }
  int requests() const { return total_.load(); }
  int requests_for(const std::string& path) {
    const std::lock_guard lock(count_mutex_);
    return per_path_[path];
  }
  int requests_containing(const std::string& part) {
    const std::lock_guard lock(count_mutex_);
    int n = 0;
    for (const auto& [path, c] : per_path_) n += path.find(part) != std::string::npos ? c : 0;
    return n;
  }

 private:
  void count(const std::string& path) {
    ++total_;
    const std::lock_guard lock(count_mutex_);
    ++per_path_[path];
  }
  static http::Response not_found() {
    return http::Response::text(404, R"({"error":"Repository not found"})", "application/json");
  }

  http::Response route(const http::Request& req) {
    static const std::regex kRevision(R"(/api/models/([^/]+)/([^/]+)/revision/main)");
    static const std::regex kTree(R"(/api/models/([^/]+)/([^/]+)/tree/([^/]+))");
    static const std::regex kResolve(R"(/([^/]+)/([^/]+)/resolve/([^/]+)/(.+))");
    static const std::regex kCdn(R"(/cdn/([^/]+)/([^/]+)/(.+))");
    count(req.path);
    std::smatch m;
    const std::lock_guard lock(mutex_);
    if (std::regex_match(req.path, m, kRevision)) {
      if (!repos_.count(m[1].str() + "/" + m[2].str())) return not_found();
      return http::Response::text(200, nlohmann::json{{"id", m[2].str()}, {"sha", kCommit}}.dump(),
                                  "application/json");
    }
    if (std::regex_match(req.path, m, kTree)) {
      if (fail_tree_ > 0) {
        --fail_tree_;
        return http::Response::text(500, "", "text/plain");
      }
      const auto it = repos_.find(m[1].str() + "/" + m[2].str());
      if (it == repos_.end() || m[3].str() != kCommit || req.query_value("recursive") != "true")
        return not_found();
      auto tree = nlohmann::json::array();
      std::set<std::string> dirs;
      for (const auto& [path, f] : it->second) {
        nlohmann::json item{{"type", "file"}, {"path", path}};
        const auto size = static_cast<long>(f.content.size()) + f.size_delta;
        item["size"] = size;
        item["oid"] = git_blob_sha1(f.lfs ? "pointer" : f.content);
        if (!f.lfs && f.wrong_hash) item["oid"] = git_blob_sha1("something else");
        if (f.lfs) {
          item["lfs"] = {{"oid", f.wrong_hash ? sha256("something else") : sha256(f.content)},
                         {"size", size},
                         {"pointerSize", 135}};
        }
        tree.push_back(item);
        if (path.find('/') != std::string::npos) dirs.insert(path.substr(0, path.find('/')));
      }
      for (const auto& d : dirs) tree.push_back({{"type", "directory"}, {"path", d}, {"size", 0}});
      return http::Response::text(200, tree.dump(), "application/json");
    }
    if (std::regex_match(req.path, m, kResolve)) {
      const auto repo = m[1].str() + "/" + m[2].str();
      const auto file = find(repo, m[4].str());
      if (!file || m[3].str() != kCommit) return not_found();
      if (!file->lfs) return serve(m[4].str(), *file);
      auto redirect = http::Response::text(302, "", "text/plain");
      redirect.headers.emplace_back("Location", "/cdn/" + repo + "/" + m[4].str());
      return redirect;
    }
    if (req.path.rfind("/ocr/", 0) == 0) {
      const auto it = ocr_.find(req.path.substr(5));
      if (it == ocr_.end()) return not_found();
      ocr_authorization_ = std::string(req.header("authorization").value_or(""));
      return http::Response::text(200, it->second, "application/octet-stream");
    }
    if (std::regex_match(req.path, m, kCdn)) {
      const auto file = find(m[1].str() + "/" + m[2].str(), m[3].str());
      if (!file) return not_found();
      return serve(m[3].str(), *file);
    }
    return not_found();
  }
  const RepoFileSpec* find(const std::string& repo, const std::string& path) const {
    const auto it = repos_.find(repo);
    if (it == repos_.end()) return nullptr;
    const auto f = it->second.find(path);
    return f == it->second.end() ? nullptr : &f->second;
  }
  http::Response serve(const std::string& path, const RepoFileSpec& file) {
    std::this_thread::sleep_for(file_delay_.load());
    auto response = http::Response::text(200, file.content, "application/octet-stream");
    if (auto it = interrupts_.find(path); it != interrupts_.end() && it->second > 0) {
      --it->second;
      // Announce the whole file, send half of it, close: a transfer cut off mid-body.
      response.headers.emplace_back("Content-Length", std::to_string(file.content.size()));
      response.body.resize(file.content.size() / 2);
      response.close = true;
    }
    return response;
  }

  test_support::HttpTestServer server_;
  int port_ = 0;
  std::mutex mutex_;
  std::map<std::string, std::map<std::string, RepoFileSpec>> repos_;
  std::map<std::string, int> interrupts_;
  std::map<std::string, std::string> ocr_;
  std::string ocr_authorization_;
  int fail_tree_ = 0;
  std::atomic<std::chrono::milliseconds> file_delay_{std::chrono::milliseconds(0)};
  std::atomic<int> total_{0};
  std::mutex count_mutex_;
  std::map<std::string, int> per_path_;
};

std::string bytes(std::size_t n, char seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + static_cast<char>(i * 31 % 251));
  return s;
}

std::string read_file(const fs::path& p) {
  std::string data(fs::file_size(p), '\0');
  std::ifstream in(p, std::ios::binary);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  return data;
}

std::vector<std::string> temporaries(const fs::path& root) {
  std::vector<std::string> out;
  if (!fs::exists(root)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().filename().string().ends_with(".incomplete")) out.push_back(e.path().string());
  }
  return out;
}

class HubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("focal-hub-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    add_clip_repo("ViT-B-32__openai");
  }
  void TearDown() override { fs::remove_all(root_); }

  void add_clip_repo(const std::string& name) {
    const auto repo = "immich-app/" + name;
    hub_.add(repo, ".gitattributes", {"*.onnx filter=lfs diff=lfs merge=lfs -text\n"});
    hub_.add(repo, "config.json", {R"({"embed_dim": 512})"});
    hub_.add(repo, "visual/model.onnx", {bytes(300000, 1), true});
    hub_.add(repo, "visual/preprocess_cfg.json", {R"({"size": [224, 224]})"});
    hub_.add(repo, "visual/model.armnn", {bytes(1000, 2), true});
    hub_.add(repo, "visual/rknpu/rk3588/model.rknn", {bytes(1000, 3), true});
    hub_.add(repo, "textual/model.onnx", {bytes(200000, 4), true});
    hub_.add(repo, "textual/tokenizer.json", {R"({"model": {}})"});
  }

  HubConfig config() const {
    HubConfig c;
    c.endpoint = hub_.endpoint();
    c.attempts_per_request = 3;
    c.request_backoff = std::chrono::milliseconds(1);
    c.failure_backoff = std::chrono::milliseconds(0);
    c.timeout_s = 5;
    return c;
  }

  ModelRequest request(const std::string& name, const std::string& type = "visual",
                       Task task = Task::kClip) const {
    ModelRequest r;
    r.task = task;
    r.clean_name = name;
    r.requested_name = name;
    r.cache_dir = root_ / std::string(to_string(task)) / name;
    r.required_file = r.cache_dir / type / "model.onnx";
    return r;
  }

  FakeHub hub_;
  fs::path root_;
};

TEST_F(HubTest, DownloadsTheSnapshotIntoTheImmichLayout) {
  ModelDownloader downloader(config());
  const auto r = request("ViT-B-32__openai");
  ASSERT_TRUE(downloader.ensure(r)) << "download failed";
  EXPECT_EQ(read_file(r.cache_dir / "visual/model.onnx"), bytes(300000, 1));
  EXPECT_EQ(read_file(r.cache_dir / "textual/model.onnx"), bytes(200000, 4));  // both towers, as Immich
  EXPECT_EQ(read_file(r.cache_dir / "config.json"), R"({"embed_dim": 512})");
  EXPECT_TRUE(fs::exists(r.cache_dir / "visual/preprocess_cfg.json"));
  EXPECT_TRUE(fs::exists(r.cache_dir / "textual/tokenizer.json"));
  EXPECT_TRUE(fs::exists(r.cache_dir / ".gitattributes"));
  // ONNX format: ARM NN and RKNN files are neither requested nor written.
  EXPECT_FALSE(fs::exists(r.cache_dir / "visual/model.armnn"));
  EXPECT_FALSE(fs::exists(r.cache_dir / "visual/rknpu"));
  EXPECT_EQ(hub_.requests_containing("armnn") + hub_.requests_containing("rknn"), 0);
  // LFS files went through the redirect to the CDN path.
  EXPECT_EQ(hub_.requests_for("/cdn/immich-app/ViT-B-32__openai/visual/model.onnx"), 1);
  EXPECT_TRUE(temporaries(root_).empty());
}

TEST_F(HubTest, CachedModelMakesNoRequests) {
  {
    ModelDownloader first(config());
    ASSERT_TRUE(first.ensure(request("ViT-B-32__openai")));
  }
  const int before = hub_.requests();
  ModelDownloader second(config());
  EXPECT_TRUE(second.ensure(request("ViT-B-32__openai", "visual")));
  EXPECT_TRUE(second.ensure(request("ViT-B-32__openai", "textual")));
  EXPECT_EQ(hub_.requests(), before);
}

TEST_F(HubTest, OfflineModeMakesNoRequestAndSaysWhy) {
  auto c = config();
  c.offline = true;
  ModelDownloader downloader(c);
  const auto st = downloader.ensure(request("ViT-B-32__openai"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(st.error().message.find("'ViT-B-32__openai'"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("HF_HUB_OFFLINE"), std::string::npos) << st.error().message;
  EXPECT_EQ(hub_.requests(), 0);
}

TEST_F(HubTest, OfflineModeStillServesCachedModels) {
  const auto r = request("ViT-B-32__openai");
  fs::create_directories(r.required_file.parent_path());
  std::ofstream(r.required_file) << "model";
  auto c = config();
  c.offline = true;
  ModelDownloader downloader(c);
  EXPECT_TRUE(downloader.ensure(r));
  EXPECT_EQ(hub_.requests(), 0);
}

TEST_F(HubTest, WrongSizeIsRefusedAndLeavesNoModel) {
  hub_.add("immich-app/buffalo_l", "detection/model.onnx", {bytes(5000, 5), true, /*size_delta=*/7});
  hub_.add("immich-app/buffalo_l", "recognition/model.onnx", {bytes(5000, 6), true});
  ModelDownloader downloader(config());
  const auto r = request("buffalo_l", "detection", Task::kFacialRecognition);
  const auto st = downloader.ensure(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(st.error().message.find("'buffalo_l'"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("bytes"), std::string::npos) << st.error().message;
  EXPECT_FALSE(fs::exists(r.required_file));
  EXPECT_TRUE(temporaries(root_).empty());
  // Retried per request: three attempts of the file.
  EXPECT_EQ(hub_.requests_for("/cdn/immich-app/buffalo_l/detection/model.onnx"), 3);
}

TEST_F(HubTest, TooManyBytesAreRefused) {
  hub_.add("immich-app/buffalo_l", "detection/model.onnx", {bytes(5000, 5), true, /*size_delta=*/-100});
  ModelDownloader downloader(config());
  const auto r = request("buffalo_l", "detection", Task::kFacialRecognition);
  ASSERT_FALSE(downloader.ensure(r));
  EXPECT_FALSE(fs::exists(r.required_file));
  EXPECT_TRUE(temporaries(root_).empty());
}

TEST_F(HubTest, WrongHashIsRefused) {
  hub_.add("immich-app/buffalo_s", "detection/model.onnx", {bytes(5000, 5), true, 0, /*wrong_hash=*/true});
  ModelDownloader downloader(config());
  const auto r = request("buffalo_s", "detection", Task::kFacialRecognition);
  const auto st = downloader.ensure(r);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("hash"), std::string::npos) << st.error().message;
  EXPECT_FALSE(fs::exists(r.required_file));
  EXPECT_TRUE(temporaries(root_).empty());
}

TEST_F(HubTest, WrongGitBlobHashOfARegularFileIsRefused) {
  hub_.add("immich-app/buffalo_s", "detection/model.onnx", {bytes(5000, 5), true});
  hub_.add("immich-app/buffalo_s", "info.json", {"{}", false, 0, /*wrong_hash=*/true});
  ModelDownloader downloader(config());
  const auto r = request("buffalo_s", "detection", Task::kFacialRecognition);
  ASSERT_FALSE(downloader.ensure(r));
  EXPECT_FALSE(fs::exists(r.cache_dir / "info.json"));
  // The side file failed first, so the model file was never fetched: nothing looks cached.
  EXPECT_FALSE(fs::exists(r.required_file));
}

TEST_F(HubTest, InterruptedTransferIsRetried) {
  hub_.interrupt("visual/model.onnx", 1);
  ModelDownloader downloader(config());
  const auto r = request("ViT-B-32__openai");
  ASSERT_TRUE(downloader.ensure(r));
  EXPECT_EQ(read_file(r.required_file), bytes(300000, 1));
  EXPECT_EQ(hub_.requests_for("/cdn/immich-app/ViT-B-32__openai/visual/model.onnx"), 2);
  EXPECT_TRUE(temporaries(root_).empty());
}

TEST_F(HubTest, InterruptedEveryTimeFailsCleanlyThenSucceedsLater) {
  hub_.interrupt("visual/model.onnx", 3);  // all three attempts of the first request
  ModelDownloader downloader(config());
  const auto r = request("ViT-B-32__openai");
  const auto st = downloader.ensure(r);
  ASSERT_FALSE(st);
  EXPECT_FALSE(fs::exists(r.required_file));
  EXPECT_TRUE(temporaries(root_).empty());
  // A later request tries again (failure_backoff is 0 here) and only fetches what is still missing.
  const int config_before = hub_.requests_for("/immich-app/ViT-B-32__openai/resolve/" +
                                              std::string(FakeHub::kCommit) + "/config.json");
  ASSERT_TRUE(downloader.ensure(r));
  EXPECT_EQ(read_file(r.required_file), bytes(300000, 1));
  EXPECT_EQ(hub_.requests_for("/immich-app/ViT-B-32__openai/resolve/" + std::string(FakeHub::kCommit) +
                              "/config.json"),
            config_before);
}

TEST_F(HubTest, FailedDownloadIsNotRetriedBeforeTheBackoff) {
  hub_.fail_tree(100);
  auto c = config();
  c.failure_backoff = std::chrono::hours(1);
  c.max_failure_backoff = std::chrono::hours(2);
  ModelDownloader downloader(c);
  const auto r = request("ViT-B-32__openai");
  const auto first = downloader.ensure(r);
  ASSERT_FALSE(first);
  EXPECT_NE(first.error().message.find("HTTP 500"), std::string::npos) << first.error().message;
  const int after_first = hub_.requests();
  const auto second = downloader.ensure(r);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("next attempt"), std::string::npos) << second.error().message;
  EXPECT_EQ(hub_.requests(), after_first);
}

TEST_F(HubTest, TransientServerErrorsAreRetried) {
  hub_.fail_tree(2);  // attempts 1 and 2 fail, 3 succeeds
  ModelDownloader downloader(config());
  EXPECT_TRUE(downloader.ensure(request("ViT-B-32__openai")));
}

TEST_F(HubTest, MissingRepositoryIsA503WithoutRetries) {
  ModelDownloader downloader(config());
  const auto st = downloader.ensure(request("buffalo_m", "detection", Task::kFacialRecognition));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(http_status(st.error().kind), 503);
  EXPECT_NE(st.error().message.find("immich-app/buffalo_m"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("HTTP 404"), std::string::npos) << st.error().message;
  EXPECT_EQ(hub_.requests(), 1);  // 404 is final
}

TEST_F(HubTest, UnsupportedNamesAreNotDownloadedUnlessAllowed) {
  add_clip_repo("my-own-clip");
  {
    ModelDownloader downloader(config());
    const auto st = downloader.ensure(request("my-own-clip"));
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("--allow-any-model"), std::string::npos) << st.error().message;
    EXPECT_EQ(hub_.requests(), 0);
  }
  auto c = config();
  c.allow_any_model = true;
  ModelDownloader downloader(c);
  EXPECT_TRUE(downloader.ensure(request("my-own-clip")));
}

class OcrHubTest : public HubTest {
 protected:
  const std::string det_ = bytes(5000, 7);
  const std::string rec_ = bytes(3000, 9);

  HubConfig ocr_config() const {
    auto c = config();
    c.ocr_endpoint = hub_.endpoint() + "/ocr";
    c.ocr_checksums = {{"ch_PP-OCRv5_det_mobile.onnx", sha256(det_)},
                       {"en_PP-OCRv5_rec_mobile.onnx", sha256(rec_)}};
    c.token = "hf_secret";
    return c;
  }
  // The paths focal-ml's model cache gives: the detector under the name without the language prefix.
  ModelRequest ocr_request(const std::string& name, const std::string& type) const {
    auto r = request(name, type, Task::kOcr);
    if (type == "detection") {
      r.cache_dir =
          root_ / "ocr" / name.substr(name.find("__") == std::string::npos ? 0 : name.find("__") + 2);
      r.required_file = r.cache_dir / type / "model.onnx";
    }
    return r;
  }
};

TEST_F(OcrHubTest, DownloadsFromTheRapidOcrTableWithChecksums) {
  hub_.add_ocr("onnx/PP-OCRv5/det/ch_PP-OCRv5_det_mobile.onnx", det_);
  hub_.add_ocr("onnx/PP-OCRv5/rec/en_PP-OCRv5_rec_mobile.onnx", rec_);
  ModelDownloader downloader(ocr_config());
  const auto det = ocr_request("EN__PP-OCRv5_mobile", "detection");
  const auto rec = ocr_request("EN__PP-OCRv5_mobile", "recognition");
  ASSERT_TRUE(downloader.ensure(det));
  ASSERT_TRUE(downloader.ensure(rec));
  EXPECT_EQ(det.required_file, root_ / "ocr/PP-OCRv5_mobile/detection/model.onnx");
  EXPECT_EQ(read_file(det.required_file), det_);
  EXPECT_EQ(read_file(rec.required_file), rec_);
  EXPECT_EQ(hub_.ocr_authorization(), "");  // the hub token stays with the hub
  EXPECT_TRUE(temporaries(root_).empty());
  const int before = hub_.requests();
  EXPECT_TRUE(downloader.ensure(det));  // cached: no request
  EXPECT_EQ(hub_.requests(), before);
}

TEST_F(OcrHubTest, WrongContentIsRefusedAndLeavesNoModel) {
  hub_.add_ocr("onnx/PP-OCRv5/det/ch_PP-OCRv5_det_mobile.onnx", "not the published file");
  ModelDownloader downloader(ocr_config());
  const auto det = ocr_request("PP-OCRv5_mobile", "detection");
  const auto st = downloader.ensure(det);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("does not match"), std::string::npos) << st.error().message;
  EXPECT_FALSE(fs::exists(det.required_file));
  EXPECT_TRUE(temporaries(root_).empty());
}

TEST_F(OcrHubTest, NamesWithoutAPublishedFileAreRefusedWithoutRequests) {
  ModelDownloader downloader(ocr_config());
  const auto st = downloader.ensure(ocr_request("KOREAN__PP-OCRv5_server", "recognition"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kUnprocessable);
  EXPECT_NE(st.error().message.find("korean_PP-OCRv5_rec_server.onnx"), std::string::npos)
      << st.error().message;
  EXPECT_EQ(hub_.requests(), 0);
}

TEST_F(OcrHubTest, OfflineModeMakesNoRequest) {
  auto c = ocr_config();
  c.offline = true;
  ModelDownloader downloader(c);
  ASSERT_FALSE(downloader.ensure(ocr_request("PP-OCRv5_mobile", "detection")));
  EXPECT_EQ(hub_.requests(), 0);
}

TEST_F(OcrHubTest, VerifyChecksCachedFilesAgainstTheTableWithoutRequests) {
  hub_.add_ocr("onnx/PP-OCRv5/det/ch_PP-OCRv5_det_mobile.onnx", det_);
  auto c = ocr_config();
  ModelDownloader downloader(c);
  const auto det = ocr_request("PP-OCRv5_mobile", "detection");
  ASSERT_TRUE(downloader.ensure(det));
  c.offline = true;  // verifying an OCR model needs no network
  ModelDownloader offline(c);
  const int before = hub_.requests();
  auto checks = offline.verify(det);
  ASSERT_TRUE(checks) << checks.error().message;
  ASSERT_EQ(checks->size(), 1U);
  EXPECT_EQ((*checks)[0].path, det.required_file);
  EXPECT_EQ((*checks)[0].problem, "");
  {
    std::fstream out(det.required_file, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(100);
    out.put('\x01');  // same size, other content
  }
  checks = offline.verify(det);
  ASSERT_TRUE(checks);
  EXPECT_NE((*checks)[0].problem.find("hash"), std::string::npos) << (*checks)[0].problem;
  fs::remove(det.required_file);
  checks = offline.verify(det);
  ASSERT_TRUE(checks);
  EXPECT_EQ((*checks)[0].problem, "missing");
  EXPECT_EQ(hub_.requests(), before);
}

TEST_F(HubTest, VerifyComparesEveryFileWithTheHubsListing) {
  ModelDownloader downloader(config());
  const auto r = request("ViT-B-32__openai");
  ASSERT_TRUE(downloader.ensure(r));
  auto checks = downloader.verify(r);
  ASSERT_TRUE(checks) << checks.error().message;
  ASSERT_FALSE(checks->empty());
  for (const auto& check : *checks) EXPECT_EQ(check.problem, "") << check.path;
  fs::resize_file(r.required_file, fs::file_size(r.required_file) - 1);
  checks = downloader.verify(r);
  ASSERT_TRUE(checks);
  const auto broken = std::find_if(checks->begin(), checks->end(),
                                   [&](const FileCheck& check) { return check.path == r.required_file; });
  ASSERT_NE(broken, checks->end());
  EXPECT_NE(broken->problem.find("bytes, expected"), std::string::npos) << broken->problem;
  auto offline_config = config();
  offline_config.offline = true;
  ModelDownloader offline(offline_config);
  auto refused = offline.verify(r);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
}

TEST(OcrModelTable, NamesMapToRapidOcrFiles) {
  const auto table = rapidocr_model_checksums();
  EXPECT_EQ(table.size(), 10U);
  EXPECT_EQ(ocr_model_file("PP-OCRv5_server", ModelType::kDetection, table)->path,
            "onnx/PP-OCRv5/det/ch_PP-OCRv5_det_server.onnx");
  EXPECT_EQ(ocr_model_file("CH__PP-OCRv5_server", ModelType::kRecognition, table)->path,
            "onnx/PP-OCRv5/rec/ch_PP-OCRv5_rec_server.onnx");
  EXPECT_EQ(ocr_model_file("ESLAV__PP-OCRv5_mobile", ModelType::kRecognition, table)->path,
            "onnx/PP-OCRv5/rec/eslav_PP-OCRv5_rec_mobile.onnx");
  EXPECT_EQ(ocr_model_file("TH__PP-OCRv5_mobile", ModelType::kDetection, table)->path,
            "onnx/PP-OCRv5/det/ch_PP-OCRv5_det_mobile.onnx");
  // Every supported Paddle name has both files.
  for (const char* name : {"PP-OCRv5_server", "PP-OCRv5_mobile", "CH__PP-OCRv5_server", "CH__PP-OCRv5_mobile",
                           "EL__PP-OCRv5_mobile", "EN__PP-OCRv5_mobile", "ESLAV__PP-OCRv5_mobile",
                           "KOREAN__PP-OCRv5_mobile", "LATIN__PP-OCRv5_mobile", "TH__PP-OCRv5_mobile"}) {
    EXPECT_TRUE(ocr_model_file(name, ModelType::kDetection, table)) << name;
    EXPECT_TRUE(ocr_model_file(name, ModelType::kRecognition, table)) << name;
  }
  EXPECT_FALSE(ocr_model_file("PP-OCRv4_mobile", ModelType::kDetection, table));
}

TEST_F(HubTest, PathsThatLeaveTheCacheDirAreRefused) {
  hub_.add("immich-app/antelopev2", "detection/model.onnx", {bytes(100, 1), true});
  hub_.add("immich-app/antelopev2", "../../escaped.txt", {"x"});
  ModelDownloader downloader(config());
  const auto r = request("antelopev2", "detection", Task::kFacialRecognition);
  const auto st = downloader.ensure(r);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("unsafe"), std::string::npos) << st.error().message;
  EXPECT_FALSE(fs::exists(root_ / "escaped.txt"));
  EXPECT_FALSE(fs::exists(root_ / "facial-recognition" / "escaped.txt"));
  EXPECT_FALSE(fs::exists(r.required_file));
}

TEST_F(HubTest, ConcurrentRequestsShareOneDownload) {
  hub_.slow_files(std::chrono::milliseconds(20));
  ModelDownloader downloader(config());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      if (downloader.ensure(request("ViT-B-32__openai", i % 2 == 0 ? "visual" : "textual"))) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(hub_.requests_containing("/tree/"), 1);
  EXPECT_EQ(hub_.requests_for("/cdn/immich-app/ViT-B-32__openai/visual/model.onnx"), 1);
  EXPECT_EQ(hub_.requests_for("/cdn/immich-app/ViT-B-32__openai/textual/model.onnx"), 1);
}

TEST(HubConfigTest, ReadsTheHuggingFaceVariables) {
  auto cfg = parse_hub_config({{"HF_ENDPOINT", "http://mirror.local:8080/"},
                               {"HF_HUB_OFFLINE", "yes"},
                               {"HF_HUB_DOWNLOAD_TIMEOUT", "30"},
                               {"FOCAL_ML_ALLOW_ANY_MODEL", "true"},
                               {"FOCAL_ML_DOWNLOAD_RETRY_S", "5"}});
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->endpoint, "http://mirror.local:8080");
  EXPECT_TRUE(cfg->offline);
  EXPECT_EQ(cfg->timeout_s, 30);
  EXPECT_TRUE(cfg->allow_any_model);
  EXPECT_EQ(cfg->failure_backoff, std::chrono::seconds(5));

  auto defaults = parse_hub_config({});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->endpoint, "https://huggingface.co");
  EXPECT_FALSE(defaults->offline);
  EXPECT_FALSE(defaults->allow_any_model);
  EXPECT_FALSE(parse_hub_config({{"HF_HUB_OFFLINE", "0"}})->offline);

  auto bad = parse_hub_config({{"HF_ENDPOINT", "ftp://x"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("HF_ENDPOINT"), std::string::npos);
  EXPECT_FALSE(parse_hub_config({{"FOCAL_ML_DOWNLOAD_RETRY_S", "-1"}}));
  EXPECT_FALSE(parse_hub_config({{"FOCAL_ML_ALLOW_ANY_MODEL", "maybe"}}));
}

}  // namespace
}  // namespace focal
