// SPDX-License-Identifier: AGPL-3.0-or-later
// Model download from the Hugging Face hub into Immich's model cache; OCR models from
// RapidOCR's model table (hub/ocr_models.h).
//
// A model is "cached" iff its model file exists; then nothing touches the network. Otherwise the whole repo
// `immich-app/<clean name>` is fetched like huggingface_hub's snapshot_download with local_dir = the model's
// cache dir (ARM NN and RKNN files skipped): the file list and sizes/hashes come from the hub's tree API,
// each file goes to a temporary name in its target folder, is checked against the size and hash the hub
// reports, fsynced and renamed into place. model.onnx files are renamed last, so an interrupted snapshot
// never looks cached.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "config/env.h"
#include "core/error.h"
#include "hub/ocr_models.h"
#include "models/model_name.h"

namespace focal {

struct HubConfig {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT, without a trailing '/'
  std::string organisation = "immich-app";
  bool offline = false;          // HF_HUB_OFFLINE: never make a request
  std::string token;             // HF_TOKEN: sent as a bearer token to the endpoint (not to redirect targets)
  bool allow_any_model = false;  // FOCAL_ML_ALLOW_ANY_MODEL: download names outside Immich's model lists too
  int attempts_per_request = 4;  // each HTTP request, with exponential backoff between attempts
  std::chrono::milliseconds request_backoff{500};
  // After a failed download, requests for that model answer 503 at once until this has passed; it doubles
  // with each further failure up to max_failure_backoff (FOCAL_ML_DOWNLOAD_RETRY_S).
  std::chrono::milliseconds failure_backoff{std::chrono::seconds(30)};
  std::chrono::milliseconds max_failure_backoff{std::chrono::minutes(10)};
  long timeout_s =
      10;  // HF_HUB_DOWNLOAD_TIMEOUT: connect timeout, and a transfer stalled this long is aborted
  // OCR models come from RapidOCR's model table instead (FOCAL_ML_OCR_ENDPOINT; hub/ocr_models.h), each file
  // checked against its published SHA-256; the table gives no sizes, so a file is capped at max_ocr_model_bytes.
  std::string ocr_endpoint = "https://www.modelscope.cn/models/RapidAI/RapidOCR/resolve/v3.8.0";
  std::map<std::string, std::string> ocr_checksums = rapidocr_model_checksums();
  std::uint64_t max_ocr_model_bytes = std::uint64_t{512} << 20;

  Status validate() const;
};

// Reads HF_ENDPOINT, HF_HUB_OFFLINE, HF_TOKEN, HF_HUB_DOWNLOAD_TIMEOUT, FOCAL_ML_ALLOW_ANY_MODEL,
// FOCAL_ML_DOWNLOAD_RETRY_S and FOCAL_ML_OCR_ENDPOINT. Errors name the variable.
Expected<HubConfig> parse_hub_config(const EnvMap& env);

struct ModelRequest {
  Task task = Task::kClip;
  std::string clean_name;               // validated (models/model_name.h)
  std::string requested_name;           // as the client sent it, for messages
  std::filesystem::path cache_dir;      // <cache folder>/<task>/<clean name>: the snapshot lands here
  std::filesystem::path required_file;  // the model file the caller needs, inside cache_dir
};

// One file of a cached model checked against its source.
struct FileCheck {
  std::filesystem::path path;
  std::string
      problem;  // empty: size and hash match; otherwise what is wrong ("missing", the hash found, ...)
};

// Thread-safe. Concurrent calls for the same model share one download (per-model lock); other models are not
// blocked. Failures are 503 errors whose message names the model and the reason.
class ModelDownloader {
 public:
  explicit ModelDownloader(HubConfig config);
  ~ModelDownloader();
  ModelDownloader(const ModelDownloader&) = delete;
  ModelDownloader& operator=(const ModelDownloader&) = delete;

  // Returns at once when `required_file` exists (no network); downloads the snapshot otherwise.
  Status ensure(const ModelRequest& request);

  // Checks the cached files of `request` against their source: every file of the hub snapshot (size, and the
  // SHA-256 or git blob hash the hub lists; needs the network), or an OCR model file against RapidOCR's
  // table (offline). kUnavailable when the hub cannot be asked (including HF_HUB_OFFLINE).
  Expected<std::vector<FileCheck>> verify(const ModelRequest& request);

  const HubConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace focal
