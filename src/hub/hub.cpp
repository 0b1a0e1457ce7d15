// SPDX-License-Identifier: AGPL-3.0-or-later
#include "hub/hub.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "http/client.h"

namespace focal {
namespace {

namespace fs = std::filesystem;
using http::ClientResult;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxApiBytes = std::size_t{16} << 20;  // a tree listing of a model repo is a few KB
constexpr int kMaxTreePages = 100;
constexpr std::size_t kMaxRepoFiles = 10000;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The rel="next" target of a Link header (tree API pagination): `<https://…?cursor=…>; rel="next"`.
std::string link_next(const ClientResult& result) {
  const auto header = result.headers.find("link");
  if (header == result.headers.end()) return {};
  const std::string_view value = header->second;
  std::size_t pos = 0;
  while (pos < value.size()) {
    const auto open = value.find('<', pos);
    if (open == std::string_view::npos) break;
    const auto close = value.find('>', open);
    if (close == std::string_view::npos) break;
    const auto end = value.find(',', close);
    const auto params = lower(value.substr(close + 1, end == std::string_view::npos ? end : end - close - 1));
    if (params.find("rel=\"next\"") != std::string::npos || params.find("rel=next") != std::string::npos) {
      return std::string(value.substr(open + 1, close - open - 1));
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return {};
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return std::string(s);
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Error unavailable(std::string message) { return {ErrorKind::kUnavailable, std::move(message)}; }

// huggingface_hub's _is_true for HF_HUB_OFFLINE.
bool hf_truthy(const std::string& value) {
  const auto v = upper(trim(value));
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

bool is_hex(std::string_view s, std::size_t length) {
  return s.size() == length &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One file of the repo as the tree API lists it.
struct RepoFile {
  std::string path;  // relative, '/'-separated, validated
  std::uint64_t size = 0;
  std::string sha256;         // lfs.oid: the file content's SHA-256 (LFS files)
  std::string git_blob_sha1;  // oid of a regular git file: SHA-1 of "blob <size>\0" + content
  bool exact_size = true;     // false: `size` is only an upper bound (the source gives no size)
};

class Digest {
 public:
  explicit Digest(const RepoFile& file) : ctx_(EVP_MD_CTX_new()) {
    if (!file.sha256.empty()) {
      expected_ = lower(file.sha256);
      EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
    } else if (!file.git_blob_sha1.empty()) {
      expected_ = lower(file.git_blob_sha1);
      EVP_DigestInit_ex(ctx_, EVP_sha1(), nullptr);
      const auto header = "blob " + std::to_string(file.size);
      EVP_DigestUpdate(ctx_, header.c_str(), header.size() + 1);  // including the NUL
    }
  }
  ~Digest() { EVP_MD_CTX_free(ctx_); }
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;

  void update(std::string_view chunk) {
    if (!expected_.empty()) EVP_DigestUpdate(ctx_, chunk.data(), chunk.size());
  }
  // Empty when it matches (or when the hub gave no hash); otherwise what was found.
  std::optional<std::string> mismatch() {
    if (expected_.empty()) return std::nullopt;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, md, &n);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string got;
    for (unsigned int i = 0; i < n; ++i) {
      got.push_back(kHex[md[i] >> 4]);
      got.push_back(kHex[md[i] & 15]);
    }
    if (got == expected_) return std::nullopt;
    return got;
  }
  const std::string& expected() const { return expected_; }

 private:
  EVP_MD_CTX* ctx_;
  std::string expected_;
};

// A path from the hub is hostile: only plain relative paths that stay inside the model's cache dir.
bool safe_repo_path(std::string_view path) {
  if (path.empty() || path.size() > 1024 || path.front() == '/') return false;
  for (const char ch : path) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || c == '\\' || c == ':') return false;
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = std::min(path.find('/', start), path.size());
    const auto part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  // The snapshot's own metadata folder and our temporary names are ours, not the repo's.
  return path.rfind(".cache/", 0) != 0 && !path.ends_with(".incomplete");
}

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && lower(std::string(s.substr(s.size() - suffix.size()))) == suffix;
}

// Immich's ignore patterns for the ONNX format: ARM NN and RKNN files are not fetched.
bool wanted_for_onnx(std::string_view path) {
  return !ends_with_ci(path, ".armnn") && !ends_with_ci(path, ".rknn");
}

bool is_model_file(std::string_view path) { return path == "model.onnx" || path.ends_with("/model.onnx"); }

struct Failure {
  Clock::time_point retry_at{};
  int count = 0;
  std::string reason;
};

struct Slot {
  std::mutex mutex;  // held for the whole download of this model
  std::optional<Failure> failure;
};

// Why one attempt of one request failed, and whether trying again can help.
struct Attempt {
  bool ok = false;
  bool retryable = true;
  std::string reason;
};

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Leftovers of a download that was killed (crash, power loss): `.<name>.<random>.incomplete`.
void remove_stale_temporaries(const fs::path& dir, const std::string& filename) {
  std::error_code ec;
  const std::string prefix = "." + filename + ".";
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name.ends_with(".incomplete")) fs::remove(it->path(), ec);
  }
}

std::string random_suffix() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  return fmt::format("{:016x}", dist(rd));
}

}  // namespace

Status HubConfig::validate() const {
  if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0)
    return bad_request("HF_ENDPOINT=\"" + endpoint + "\": expected an http:// or https:// URL");
  if (ocr_endpoint.rfind("http://", 0) != 0 && ocr_endpoint.rfind("https://", 0) != 0)
    return bad_request("FOCAL_ML_OCR_ENDPOINT=\"" + ocr_endpoint + "\": expected an http:// or https:// URL");
  if (attempts_per_request < 1) return bad_request("hub: attempts_per_request must be at least 1");
  if (timeout_s < 1) return bad_request("HF_HUB_DOWNLOAD_TIMEOUT must be at least 1 second");
  if (failure_backoff.count() < 0 || max_failure_backoff < failure_backoff)
    return bad_request(
        "FOCAL_ML_DOWNLOAD_RETRY_S must be between 0 and " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(max_failure_backoff).count()));
  return {};
}

Expected<HubConfig> parse_hub_config(const EnvMap& env) {
  HubConfig cfg;
  auto get = [&](const char* name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  auto positive_int = [](const char* name, const std::string& value) -> Expected<long> {
    const auto v = trim(value);
    long out = 0;
    const bool digits = !v.empty() && v.size() <= 9 &&
                        std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
    if (digits) out = std::stol(v);
    if (!digits)
      return bad_request(std::string(name) + "=\"" + value + "\": expected a whole number of seconds");
    return out;
  };
  if (auto v = get("HF_ENDPOINT"); v && !trim(*v).empty()) {
    cfg.endpoint = trim(*v);
    while (cfg.endpoint.ends_with('/')) cfg.endpoint.pop_back();
  }
  if (auto v = get("HF_HUB_OFFLINE")) cfg.offline = hf_truthy(*v);
  if (auto v = get("HF_TOKEN")) cfg.token = trim(*v);
  if (auto v = get("HF_HUB_DOWNLOAD_TIMEOUT")) {
    auto t = positive_int("HF_HUB_DOWNLOAD_TIMEOUT", *v);
    if (!t) return std::move(t).error();
    cfg.timeout_s = *t;
  }
  if (auto v = get("FOCAL_ML_ALLOW_ANY_MODEL")) {
    const auto l = lower(trim(*v));
    if (l == "1" || l == "true" || l == "yes" || l == "on") {
      cfg.allow_any_model = true;
    } else if (l == "0" || l == "false" || l == "no" || l == "off" || l.empty()) {
      cfg.allow_any_model = false;
    } else {
      return bad_request("FOCAL_ML_ALLOW_ANY_MODEL=\"" + *v + "\": expected a boolean");
    }
  }
  if (auto v = get("FOCAL_ML_OCR_ENDPOINT"); v && !trim(*v).empty()) {
    cfg.ocr_endpoint = trim(*v);
    while (cfg.ocr_endpoint.ends_with('/')) cfg.ocr_endpoint.pop_back();
  }
  if (auto v = get("FOCAL_ML_DOWNLOAD_RETRY_S")) {
    auto t = positive_int("FOCAL_ML_DOWNLOAD_RETRY_S", *v);
    if (!t) return std::move(t).error();
    cfg.failure_backoff = std::chrono::seconds(*t);
  }
  if (auto st = cfg.validate(); !st) return st.error();
  return cfg;
}

struct ModelDownloader::Impl {
  explicit Impl(HubConfig c) : config(std::move(c)) {}

  HubConfig config;
  http::Client client;
  std::mutex slots_mutex;  // guards the map only
  std::map<std::string, std::shared_ptr<Slot>> slots;

  std::shared_ptr<Slot> slot_for(const ModelRequest& request) {
    const std::lock_guard lock(slots_mutex);
    auto& slot = slots[request.cache_dir.string()];
    if (!slot) slot = std::make_shared<Slot>();
    return slot;
  }

  std::string repo_id(const ModelRequest& request) const {
    return config.organisation + "/" + request.clean_name;
  }

  // Runs `attempt` up to attempts_per_request times, doubling the pause between attempts.
  template <class F>
  Attempt with_retries(const std::string& what, F&& attempt) {
    auto pause = config.request_backoff;
    Attempt result;
    for (int i = 1; i <= config.attempts_per_request; ++i) {
      result = attempt();
      if (result.ok || !result.retryable) return result;
      if (i < config.attempts_per_request) {
        spdlog::warn("{} failed ({}); attempt {} of {} in {} ms", what, result.reason, i + 1,
                     config.attempts_per_request, pause.count());
        std::this_thread::sleep_for(pause);
        pause *= 2;
      }
    }
    return result;
  }

  // GET with the hub's options: redirects followed (to the CDN), the token sent to the hub only, a transfer
  // that stalls for timeout_s aborted.
  ClientResult get(const std::string& url, const http::BodySink& sink, bool send_token = true) {
    http::ClientRequest request;
    request.url = url;
    if (send_token && !config.token.empty())
      request.headers.emplace_back("Authorization", "Bearer " + config.token);
    request.connect_timeout = std::chrono::seconds(config.timeout_s);
    request.low_speed_time = std::chrono::seconds(config.timeout_s);
    request.follow_redirects = true;
    request.user_agent = "focal-ml (huggingface_hub-compatible downloader)";
    return client.perform(request, sink);
  }

  static Attempt classify(const ClientResult& r, const std::string& what) {
    if (!r.transport_ok) return {false, true, what + ": " + r.error};
    if (r.status == 200) return {true, false, {}};
    // 404: no such repo/file; 401/403: private or gated. Asking again will not change the answer.
    const bool permanent = r.status == 400 || r.status == 401 || r.status == 403 || r.status == 404;
    return {false, !permanent, what + ": HTTP " + std::to_string(r.status)};
  }

  Attempt get_json(const std::string& url, const std::string& what, nlohmann::json& out,
                   std::string* next_link) {
    return with_retries(what, [&]() -> Attempt {
      std::string body;
      const auto r = get(url, [&](std::string_view chunk) {
        if (body.size() + chunk.size() > kMaxApiBytes) return false;
        body.append(chunk);
        return true;
      });
      auto verdict = classify(r, what);
      if (!verdict.ok) return verdict;
      out = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
      if (out.is_discarded()) return {false, true, what + ": the hub's answer is not JSON"};
      if (next_link) *next_link = link_next(r);
      return verdict;
    });
  }

  // The commit `main` points at, so that every file comes from the same revision (as snapshot_download does).
  Expected<std::string> resolve_revision(const ModelRequest& request) {
    nlohmann::json info;
    const auto url = config.endpoint + "/api/models/" + repo_id(request) + "/revision/main";
    auto got = get_json(url, "GET " + url, info, nullptr);
    if (!got.ok) return unavailable(got.reason);
    if (info.is_object() && info.contains("sha") && info["sha"].is_string() &&
        is_hex(info["sha"].get<std::string>(), 40)) {
      return info["sha"].get<std::string>();
    }
    return std::string("main");
  }

  Expected<std::vector<RepoFile>> list_files(const ModelRequest& request, const std::string& revision) {
    std::vector<RepoFile> files;
    std::string url =
        config.endpoint + "/api/models/" + repo_id(request) + "/tree/" + revision + "?recursive=true";
    for (int page = 0; !url.empty(); ++page) {
      if (page == kMaxTreePages)
        return unavailable("the hub's file list has more than " + std::to_string(kMaxTreePages) + " pages");
      nlohmann::json tree;
      std::string next;
      auto got = get_json(url, "GET " + url, tree, &next);
      if (!got.ok) return unavailable(got.reason);
      if (!tree.is_array()) return unavailable("the hub's file list is not a JSON array");
      for (const auto& item : tree) {
        // Only files; checked by hand because json::value() throws when a hostile hub sends another type.
        const bool is_file = item.is_object() && item.contains("type") && item["type"].is_string() &&
                             item["type"].get<std::string>() == "file";
        if (!is_file) continue;
        RepoFile f;
        const auto* path = item.contains("path") && item["path"].is_string() ? &item["path"] : nullptr;
        if (!path) return unavailable("the hub's file list has an entry without a path");
        f.path = path->get<std::string>();
        if (!safe_repo_path(f.path)) return unavailable("the hub lists an unsafe file path '" + f.path + "'");
        const auto& lfs = item.contains("lfs") ? item["lfs"] : nlohmann::json();
        const auto& size = lfs.is_object() && lfs.contains("size")
                               ? lfs["size"]
                               : (item.contains("size") ? item["size"] : nlohmann::json());
        if (!size.is_number_unsigned()) return unavailable("the hub gives no size for '" + f.path + "'");
        f.size = size.get<std::uint64_t>();
        if (lfs.is_object() && lfs.contains("oid") && lfs["oid"].is_string()) {
          f.sha256 = lfs["oid"].get<std::string>();
          if (!is_hex(f.sha256, 64))
            return unavailable("the hub gives an invalid SHA-256 for '" + f.path + "'");
        } else if (item.contains("oid") && item["oid"].is_string() &&
                   is_hex(item["oid"].get<std::string>(), 40)) {
          f.git_blob_sha1 = item["oid"].get<std::string>();
        }
        if (wanted_for_onnx(f.path)) files.push_back(std::move(f));
        if (files.size() > kMaxRepoFiles) return unavailable("the repository has too many files");
      }
      url = next;
      // Pagination must stay on the configured hub.
      if (!url.empty() && url.rfind(config.endpoint + "/", 0) != 0) {
        return unavailable("the hub's next-page link leaves HF_ENDPOINT");
      }
    }
    return files;
  }

  std::string resolve_url(const ModelRequest& request, const std::string& revision,
                          const std::string& path) const {
    std::string url = config.endpoint + "/" + repo_id(request) + "/resolve/" + revision;
    std::size_t start = 0;
    while (start <= path.size()) {
      const auto end = std::min(path.find('/', start), path.size());
      url += "/" + http::escape_segment(std::string_view(path).substr(start, end - start));
      start = end + 1;
    }
    return url;
  }

  // One attempt: GET into a fresh temporary file, verify, fsync, rename over `target`.
  Attempt fetch_once(const std::string& url, const RepoFile& file, const fs::path& target,
                     bool send_token = true) {
    const auto dir = target.parent_path();
    const auto temp = dir / ("." + target.filename().string() + "." + random_suffix() + ".incomplete");
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return {false, false, "cannot create " + temp.string() + ": " + std::strerror(errno)};
    Digest digest(file);
    std::uint64_t written = 0;
    bool write_failed = false;
    const auto r = get(
        url,
        [&](std::string_view chunk) {
          if (written + chunk.size() > file.size) return false;  // more than announced: never fill the disk
          const char* p = chunk.data();
          std::size_t left = chunk.size();
          while (left > 0) {
            const auto n = ::write(fd, p, left);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
              write_failed = true;
              return false;
            }
            p += n;
            left -= static_cast<std::size_t>(n);
          }
          written += chunk.size();
          digest.update(chunk);
          return true;
        },
        send_token);
    auto fail = [&](Attempt a) {
      ::close(fd);
      std::error_code ec;
      fs::remove(temp, ec);
      return a;
    };
    const std::string what = "GET " + url;
    if (write_failed)
      return fail({false, false, "writing " + temp.string() + " failed: " + std::strerror(errno)});
    if (r.transport_ok || r.status != 200) {
      auto verdict = classify(r, what);
      if (!verdict.ok) return fail(verdict);
    }
    if (!r.transport_ok) {
      return fail({false, true,
                   what + ": " + r.error + " after " + std::to_string(written) + " of " +
                       std::to_string(file.size) + " bytes"});
    }
    if (file.exact_size && written != file.size) {
      return fail({false, true,
                   what + ": got " + std::to_string(written) + " bytes, the hub announced " +
                       std::to_string(file.size)});
    }
    if (auto got = digest.mismatch()) {
      return fail(
          {false, true, what + ": content hash " + *got + " does not match the hub's " + digest.expected()});
    }
    if (::fsync(fd) != 0) return fail({false, false, "fsync " + temp.string() + ": " + std::strerror(errno)});
    ::close(fd);
    std::error_code ec;
    fs::rename(temp, target, ec);
    if (ec) {
      fs::remove(temp, ec);
      return {false, false, "rename to " + target.string() + " failed: " + ec.message()};
    }
    fsync_dir(dir);
    return {true, false, {}};
  }

  // One OCR model file from the RapidOCR table (never sent the hub token: it is another host).
  Status download_ocr(const ModelRequest& request, const OcrModelFile& source) {
    std::error_code ec;
    const auto dir = request.required_file.parent_path();
    fs::create_directories(dir, ec);
    if (ec) return unavailable("cannot create " + dir.string() + ": " + ec.message());
    remove_stale_temporaries(dir, request.required_file.filename().string());
    RepoFile file;
    file.path = source.path;
    file.sha256 = source.sha256;
    file.size = config.max_ocr_model_bytes;
    file.exact_size = false;
    const auto url = config.ocr_endpoint + "/" + source.path;
    auto got =
        with_retries("GET " + url, [&] { return fetch_once(url, file, request.required_file, false); });
    if (!got.ok) return unavailable(got.reason);
    return {};
  }

  Status download_snapshot(const ModelRequest& request) {
    auto revision = resolve_revision(request);
    if (!revision) return revision.error();
    auto files = list_files(request, *revision);
    if (!files) return files.error();
    const auto required_rel = request.required_file.lexically_relative(request.cache_dir).generic_string();
    if (std::none_of(files->begin(), files->end(),
                     [&](const RepoFile& f) { return f.path == required_rel; })) {
      return unavailable("the repository has no file '" + required_rel + "'");
    }
    // Side files first, model.onnx last: the model counts as cached once its model file exists.
    std::stable_partition(files->begin(), files->end(),
                          [](const RepoFile& f) { return !is_model_file(f.path); });

    std::uint64_t needed = 0;
    std::vector<const RepoFile*> missing;
    for (const auto& f : *files) {
      std::error_code ec;
      const auto target = request.cache_dir / f.path;
      // Files only ever appear through a verified rename, so a present file of the right size is complete.
      if (fs::is_regular_file(target, ec) && fs::file_size(target, ec) == f.size) continue;
      missing.push_back(&f);
      needed += f.size;
    }
    std::error_code ec;
    fs::create_directories(request.cache_dir, ec);
    if (ec) return unavailable("cannot create " + request.cache_dir.string() + ": " + ec.message());
    if (struct statvfs st{}; ::statvfs(request.cache_dir.c_str(), &st) == 0) {
      const auto free_bytes = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
      if (needed > free_bytes) {
        return unavailable("not enough disk space in " + request.cache_dir.string() + " (" +
                           std::to_string(needed) + " bytes needed, " + std::to_string(free_bytes) +
                           " free)");
      }
    }
    for (const RepoFile* f : missing) {
      const auto target = request.cache_dir / f->path;
      fs::create_directories(target.parent_path(), ec);
      if (ec) return unavailable("cannot create " + target.parent_path().string() + ": " + ec.message());
      remove_stale_temporaries(target.parent_path(), target.filename().string());
      const auto url = resolve_url(request, *revision, f->path);
      spdlog::debug("Downloading {} ({} bytes)", url, f->size);
      auto got = with_retries("GET " + url, [&] { return fetch_once(url, *f, target); });
      if (!got.ok) return unavailable(got.reason);
    }
    return {};
  }
};

namespace {

// Empty when the file at `path` has the size and hash `expected` gives.
std::string check_file(const fs::path& path, const RepoFile& expected) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return "missing";
  const auto size = fs::file_size(path, ec);
  if (ec) return "unreadable: " + ec.message();
  if (expected.exact_size && size != expected.size)
    return std::to_string(size) + " bytes, expected " + std::to_string(expected.size);
  std::ifstream in(path, std::ios::binary);
  if (!in) return "unreadable";
  Digest digest(expected);
  std::string buffer(std::size_t{1} << 20, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    digest.update(std::string_view(buffer.data(), static_cast<std::size_t>(in.gcount())));
  }
  if (in.bad()) return "read error";
  if (auto got = digest.mismatch()) return "hash " + *got + ", expected " + digest.expected();
  return {};
}

}  // namespace

ModelDownloader::ModelDownloader(HubConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
ModelDownloader::~ModelDownloader() = default;

const HubConfig& ModelDownloader::config() const { return impl_->config; }

Expected<std::vector<FileCheck>> ModelDownloader::verify(const ModelRequest& request) {
  if (request.task == Task::kOcr) {
    const auto type = request.required_file.parent_path().filename() == "detection" ? ModelType::kDetection
                                                                                    : ModelType::kRecognition;
    auto source = ocr_model_file(request.clean_name, type, impl_->config.ocr_checksums);
    if (!source) return source.error();
    RepoFile expected;
    expected.path = source->path;
    expected.sha256 = source->sha256;
    expected.exact_size = false;  // the table gives no sizes
    return std::vector<FileCheck>{{request.required_file, check_file(request.required_file, expected)}};
  }
  if (impl_->config.offline) {
    return unavailable("'" + request.requested_name +
                       "' is checked against the hub's file list, and HF_HUB_OFFLINE is set");
  }
  auto revision = impl_->resolve_revision(request);
  if (!revision) return revision.error();
  auto files = impl_->list_files(request, *revision);
  if (!files) return files.error();
  std::vector<FileCheck> checks;
  for (const auto& file : *files) {
    const auto path = request.cache_dir / file.path;
    checks.push_back({path, check_file(path, file)});
  }
  return checks;
}

Status ModelDownloader::ensure(const ModelRequest& request) {
  std::error_code ec;
  if (fs::is_regular_file(request.required_file, ec)) return {};
  const std::string model = "'" + request.requested_name + "'";
  const std::string missing =
      "Model " + model + " is not in the model cache (expected " + request.required_file.string() + ")";
  if (impl_->config.offline)
    return unavailable(missing + " and HF_HUB_OFFLINE is set, so it is not downloaded");
  std::optional<OcrModelFile> ocr_source;
  if (request.task == Task::kOcr) {
    const auto type = request.required_file.parent_path().filename() == "detection" ? ModelType::kDetection
                                                                                    : ModelType::kRecognition;
    auto source = ocr_model_file(request.clean_name, type, impl_->config.ocr_checksums);
    if (!source) return Error{source.error().kind, missing + " and " + source.error().message};
    ocr_source = std::move(*source);
  } else if (!impl_->config.allow_any_model && !model_source(request.clean_name)) {
    return unprocessable(missing +
                         " and it is not a supported model name, so it is not downloaded "
                         "(start focal-ml with --allow-any-model to allow any name)");
  }

  auto slot = impl_->slot_for(request);
  const std::lock_guard lock(slot->mutex);
  if (fs::is_regular_file(request.required_file, ec)) return {};  // another request downloaded it meanwhile
  const auto now = Clock::now();
  if (slot->failure && now < slot->failure->retry_at) {
    const auto wait =
        std::chrono::duration_cast<std::chrono::seconds>(slot->failure->retry_at - now).count() + 1;
    return unavailable(missing + " and downloading it failed: " + slot->failure->reason +
                       "; the next attempt is in " + std::to_string(wait) + " s");
  }

  const auto from = ocr_source ? impl_->config.ocr_endpoint + "/" + ocr_source->path
                               : impl_->config.endpoint + "/" + impl_->repo_id(request);
  spdlog::info("Downloading {} model {} to {} from {}. This may take a while.", to_string(request.task),
               model, request.cache_dir.string(), from);
  const auto started = Clock::now();
  auto st = ocr_source ? impl_->download_ocr(request, *ocr_source) : impl_->download_snapshot(request);
  if (st && !fs::is_regular_file(request.required_file, ec)) {
    st = unavailable("the download finished without " + request.required_file.string());
  }
  if (!st) {
    Failure f = slot->failure.value_or(Failure{});
    f.count += 1;
    auto backoff = impl_->config.failure_backoff;
    for (int i = 1; i < f.count && backoff < impl_->config.max_failure_backoff; ++i) backoff *= 2;
    backoff = std::min(backoff, impl_->config.max_failure_backoff);
    f.retry_at = Clock::now() + backoff;
    f.reason = st.error().message;
    slot->failure = f;
    const auto message = missing + " and downloading it from " + from + " failed: " + f.reason;
    spdlog::error("{} (attempt {}; next attempt allowed in {} ms)", message, f.count, backoff.count());
    return Error{st.error().kind, message};
  }
  slot->failure.reset();
  spdlog::info("Downloaded model {} in {} ms", model,
               std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
  return {};
}

}  // namespace focal
