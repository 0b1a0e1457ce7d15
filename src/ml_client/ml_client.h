// SPDX-License-Identifier: AGPL-3.0-or-later
// Client for Immich-compatible machine-learning services (focal-ml or Immich's own), with Immich's health
// checks, URL fallback and `entries` formats.
//
// Several URLs in configured order: a background thread pings `ping` (relative to each URL) every
// availabilityChecks.interval ms with availabilityChecks.timeout; requests go to healthy URLs first, then to
// the others (in order). Among the healthy URLs, Balance::kFallback (Immich's only behaviour) keeps the
// configured order, so the first healthy node takes all traffic; Balance::kLeastOutstanding (focal's
// machineLearning.balance = "least-outstanding") tries first the node with the lowest
// (requests in flight + 1) × measured latency of that task (a node's first answer to a task, which loads the
// model, is not a sample; an average older than 5 s or 20 requests is measured again; latencies within 1.5×
// of the fastest count as equal; ties go to the node that has waited longest), so every healthy node works.
// Each attempt POSTs multipart/form-data to `predict` (relative) with the part `entries` (JSON task spec) plus
// `image` (bytes) or `text`, exactly as Immich sends it. When every URL fails the call returns kUnavailable
// with Immich's message, and the job system retries with backoff.
//
// Unlike Immich, every request has a bounded timeout (ClientOptions::request_timeout, default 120 s) so a
// hung ML node cannot hold a job forever, and `x-api-key` is sent when FOCAL_ML_API_KEY is set.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/env.h"
#include "core/error.h"

namespace focal::settings {
struct SystemConfig;
class SettingsStore;
}  // namespace focal::settings

namespace focal::ml {

struct BoundingBox {
  int x1 = 0;
  int y1 = 0;
  int x2 = 0;
  int y2 = 0;
};

struct DetectedFace {
  BoundingBox box;  // integer pixels of the sent image
  float score = 0;
  std::vector<float> embedding;  // as returned (not normalized): 512 values for buffalo packs, any size
};

struct FaceDetection {
  int image_width = 0;
  int image_height = 0;
  std::vector<DetectedFace> faces;
};

// One line of text found in an image (ocr task): corners TL, TR, BR, BL as x, y pairs normalised to [0, 1].
struct TextLine {
  std::array<float, 8> box{};
  float box_score = 0;
  float text_score = 0;
  std::string text;
};

struct OcrOptions {
  double min_detection_score = 0.5;
  int max_resolution = 736;
  double min_recognition_score = 0.8;
};

// The typed ML calls the server needs. An interface so that services can be tested with a fake.
class MlClient {
 public:
  virtual ~MlClient() = default;
  // CLIP image embedding of encoded image bytes (JPEG/PNG/WebP...).
  virtual Expected<std::vector<float>> clip_image(std::string_view model_name,
                                                  std::string_view image_bytes) = 0;
  // CLIP text embedding; `language` is the UI locale (only nllb models use it), may be empty.
  virtual Expected<std::vector<float>> clip_text(std::string_view model_name, std::string_view text,
                                                 std::string_view language) = 0;
  // Face detection + recognition; `min_score` is the detection threshold.
  virtual Expected<FaceDetection> detect_faces(std::string_view detection_model,
                                               std::string_view recognition_model, double min_score,
                                               std::string_view image_bytes) = 0;
  // Text in the image (OCR detection + recognition with `model_name`). Clients without OCR answer kUnavailable.
  virtual Expected<std::vector<TextLine>> ocr(std::string_view model_name, const OcrOptions& options,
                                              std::string_view image_bytes);
};

// How requests are spread over the healthy URLs (machineLearning.balance).
enum class Balance {
  kFallback,          // "fallback": configured order (Immich)
  kLeastOutstanding,  // "least-outstanding": fewest requests in flight, weighted by measured latency
};
std::string_view to_string(Balance balance);
std::optional<Balance> parse_balance(std::string_view text);

// One URL as the client sees it (GET /api/server/ml-health, focal serve's /metrics).
struct NodeStatus {
  std::string url;
  bool healthy = false;        // last health check or request answered (always true with checks off, unless
                               // a request failed within the last availability-check interval)
  int outstanding = 0;         // requests in flight now
  std::uint64_t requests = 0;  // attempts sent since start (or since the URL was configured)
  std::uint64_t failures = 0;  // attempts that failed: transport error, timeout, non-2xx or unusable body
  // Moving average (weight 0.2 per sample; restarted by a sample after ClientOptions::latency_validity or 20
  // attempts without one) of successful requests' latency in ms by task ("clip.visual", "clip.textual",
  // "facial-recognition", "ocr"); after a single answer (the warm-up, not yet used for balancing), that
  // answer's latency.
  std::map<std::string, double, std::less<>> latency_ms;
};

struct ClientOptions {
  bool enabled = true;            // machineLearning.enabled; false → every call fails with kUnavailable
  std::vector<std::string> urls;  // configured order
  Balance balance = Balance::kFallback;
  // least-outstanding: a node's latency older than this no longer ranks it (it counts as unmeasured, gets a
  // request and is measured again), so one slow answer (a model load, a hiccup) cannot keep a node idle.
  std::chrono::milliseconds latency_validity{5000};
  bool availability_checks = true;  // false → every URL counts as healthy
  std::chrono::milliseconds ping_timeout{2000};
  std::chrono::milliseconds ping_interval{30000};
  std::chrono::milliseconds request_timeout{120000};  // focal: bounded (Immich has none)
  std::chrono::milliseconds connect_timeout{5000};
  std::string api_key;  // sent as x-api-key when not empty
  std::size_t max_response_bytes = std::size_t{16} << 20;
};

// Options from the system config plus FOCAL_ML_API_KEY and FOCAL_ML_REQUEST_TIMEOUT_MS from the environment.
ClientOptions client_options(const settings::SystemConfig& config, const EnvMap& env);

// The HTTP implementation.
class HttpMlClient final : public MlClient {
 public:
  explicit HttpMlClient(ClientOptions options);
  ~HttpMlClient() override;  // stops the health thread
  HttpMlClient(const HttpMlClient&) = delete;
  HttpMlClient& operator=(const HttpMlClient&) = delete;

  // Applies new options live (settings listener): health entries of removed URLs are dropped, the health
  // thread restarts with the new interval, and a ping round runs at once when checks are on.
  void configure(ClientOptions options);
  // Starts the periodic health checks (a background thread; no-op when checks or ML are off). The first round
  // runs immediately. stop() (or the destructor) ends it promptly.
  void start();
  void stop();
  // Pings every URL once now (synchronously) and updates health; for start-up and tests.
  void check_health_now();
  // Health as last seen: with checks off every URL is healthy; a never-pinged URL is not.
  bool is_healthy(std::string_view url) const;
  std::vector<std::string> urls() const;
  // Every configured URL in configured order, with its counters.
  std::vector<NodeStatus> nodes() const;
  Balance balance() const;

  // Raw request: entries JSON plus exactly one of image bytes / text (the other empty). Returns the parsed
  // JSON body of the first 2xx answer.
  Expected<nlohmann::json> predict(const nlohmann::json& entries, std::string_view image_bytes,
                                   std::string_view text);

  Expected<std::vector<float>> clip_image(std::string_view model_name, std::string_view image_bytes) override;
  Expected<std::vector<float>> clip_text(std::string_view model_name, std::string_view text,
                                         std::string_view language) override;
  Expected<FaceDetection> detect_faces(std::string_view detection_model, std::string_view recognition_model,
                                       double min_score, std::string_view image_bytes) override;
  Expected<std::vector<TextLine>> ocr(std::string_view model_name, const OcrOptions& options,
                                      std::string_view image_bytes) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Keeps `client` in step with the stored config: applies client_options(store.get(), env) now and on every
// change of machineLearning.* (URL list, checks, enabled). Returns the listener id
// (SettingsStore::unsubscribe); both objects must outlive the subscription.
int follow_settings(HttpMlClient& client, settings::SettingsStore& store, const EnvMap& env);

// Prometheus families of the client's nodes (focal_ml_node_*), rendered from nodes() at scrape time.
void render_node_metrics(const HttpMlClient& client, std::string& out);

// Response parsing (exposed for tests): a CLIP embedding given as a JSON string "[f1,...]" (Immich/focal-ml)
// or a JSON array; errors name `url`. Every value must be finite; at least one value.
Expected<std::vector<float>> parse_clip_embedding(const nlohmann::json& body, std::string_view url);
// {"facial-recognition":[{boundingBox:{x1,y1,x2,y2}, embedding:"[...]"|[...], score}], imageWidth,
// imageHeight}. Every embedding has the same size (1 to 8192 floats).
Expected<FaceDetection> parse_face_detection(const nlohmann::json& body, std::string_view url);
// {"ocr": {"text": [...], "box": [8 numbers per line], "boxScore": [...], "textScore": [...]}}: the four lists
// must agree in length and hold finite numbers (boxes within [-1, 2]) and strings.
Expected<std::vector<TextLine>> parse_ocr(const nlohmann::json& body, std::string_view url);

}  // namespace focal::ml
