// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ml_client/ml_client.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include "core/logging.h"
#include "http/client.h"
#include "metrics/metrics.h"
#include "settings/settings.h"

namespace focal::ml {
namespace {

using nlohmann::json;

// A configured URL's base for relative references (WHATWG URL rules: `ping` relative to "http://h/ml/" is
// "http://h/ml/ping", relative to "http://h/ml" it is "http://h/ping").
Expected<std::string> base_directory(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos ||
      (url.substr(0, scheme_end) != "http" && url.substr(0, scheme_end) != "https"))
    return bad_request("not an http(s) URL: " + std::string(url));
  auto cut = url.find_first_of("?#", scheme_end + 3);
  const auto without_query = url.substr(0, cut);
  const auto path_start = without_query.find('/', scheme_end + 3);
  if (path_start == std::string_view::npos) return std::string(without_query) + "/";
  return std::string(without_query.substr(0, without_query.rfind('/') + 1));
}

std::string clip_text_for_log(std::string text) {
  constexpr std::size_t kMax = 200;
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

}  // namespace

std::string_view to_string(Balance balance) {
  return balance == Balance::kLeastOutstanding ? "least-outstanding" : "fallback";
}

std::optional<Balance> parse_balance(std::string_view text) {
  for (auto balance : {Balance::kFallback, Balance::kLeastOutstanding})
    if (to_string(balance) == text) return balance;
  return std::nullopt;
}

ClientOptions client_options(const settings::SystemConfig& config, const EnvMap& env) {
  ClientOptions options;
  const auto& ml = config.machine_learning;
  options.enabled = ml.enabled;
  options.urls = ml.urls;
  options.balance = parse_balance(ml.balance).value_or(Balance::kFallback);
  options.availability_checks = ml.availability_checks.enabled;
  options.ping_timeout = std::chrono::milliseconds(ml.availability_checks.timeout_ms);
  options.ping_interval = std::chrono::milliseconds(ml.availability_checks.interval_ms);
  if (auto key = env.find("FOCAL_ML_API_KEY"); key != env.end()) options.api_key = key->second;
  if (auto timeout = env.find("FOCAL_ML_REQUEST_TIMEOUT_MS"); timeout != env.end()) {
    try {
      const long long ms = std::stoll(timeout->second);
      if (ms > 0) options.request_timeout = std::chrono::milliseconds(ms);
    } catch (const std::exception&) {
      spdlog::warn("FOCAL_ML_REQUEST_TIMEOUT_MS=\"{}\" is not a number; keeping {} ms", timeout->second,
                   options.request_timeout.count());
    }
  }
  return options;
}

namespace {
// A parsed 2xx answer and the URL that gave it (typed parsers name it in errors).
struct Answer {
  json body;
  std::string url;
};
}  // namespace

int follow_settings(HttpMlClient& client, settings::SettingsStore& store, const EnvMap& env) {
  client.configure(client_options(store.get(), env));
  return store.subscribe(
      [&client, env](const settings::SystemConfig& before, const settings::SystemConfig& after) {
        const auto& a = before.machine_learning;
        const auto& b = after.machine_learning;
        if (a.enabled == b.enabled && a.urls == b.urls && a.balance == b.balance &&
            a.availability_checks == b.availability_checks)
          return;
        client.configure(client_options(after, env));
      });
}

// The task an `entries` spec asks for, the key of its latency average: "clip.visual", "clip.textual",
// "facial-recognition" or "ocr".
std::string task_of(const json& entries) {
  if (!entries.is_object() || entries.empty()) return "other";
  const auto first = entries.begin();
  if (first.key() == "clip" && first->is_object() && !first->empty()) return "clip." + first->begin().key();
  return first.key();
}

struct HttpMlClient::Impl {
  using SteadyClock = std::chrono::steady_clock;

  // Moving average of a task's successful requests on one node, and when it last moved: the time (nullopt:
  // only the warm-up answer so far, which ranks nothing) and the number of attempts started by then.
  struct Latency {
    double ms = 0;
    std::optional<SteadyClock::time_point> measured_at;
    std::uint64_t measured_after_attempts = 0;
  };

  // A node's average stops ranking it after options.latency_validity or after this many attempts (to any
  // node) without a new sample, whichever comes first: one slow answer (a busy moment) would otherwise keep a
  // node idle for the whole validity period while requests come one at a time. The price is at most one
  // request in this many on a node that really is slower.
  static constexpr std::uint64_t kRemeasureAfterAttempts = 20;

  bool is_fresh(const Latency& latency, SteadyClock::time_point now) const {
    return latency.measured_at && now - *latency.measured_at <= options.latency_validity &&
           attempts_started - latency.measured_after_attempts <= kRemeasureAfterAttempts;
  }

  // What the client knows of one configured URL.
  struct Node {
    std::optional<bool> healthy;  // nullopt: never pinged
    // With checks off, least-outstanding skips a node whose request failed until this time.
    SteadyClock::time_point down_until{};
    int outstanding = 0;
    std::uint64_t requests = 0;
    std::uint64_t failures = 0;
    SteadyClock::time_point last_sent{};  // least-outstanding's tie-break: the longest-waiting node first
    std::map<std::string, Latency, std::less<>> latency;  // by task
  };

  Expected<Answer> predict(const json& entries, std::string_view image_bytes, std::string_view text);

  http::Client client;
  mutable std::mutex mutex;
  ClientOptions options;
  std::map<std::string, Node, std::less<>> nodes;  // absent: never pinged nor requested
  std::uint64_t attempts_started = 0;              // to any node

  std::thread health_thread;
  std::condition_variable wake;
  bool stopping = false;
  bool running = false;

  bool is_configured(std::string_view url) const {
    return std::find(options.urls.begin(), options.urls.end(), url) != options.urls.end();
  }

  // Healthy as requests see it (mutex held).
  bool usable(std::string_view url, SteadyClock::time_point now) const {
    const auto found = nodes.find(url);
    if (!options.availability_checks)
      return options.balance == Balance::kFallback || found == nodes.end() || now >= found->second.down_until;
    return found != nodes.end() && found->second.healthy.value_or(false);
  }

  // Marks health; logs transitions only (a never-pinged URL turning healthy is logged too).
  void set_health(const std::string& url, bool is_healthy) {
    bool changed = false;
    {
      std::lock_guard lock(mutex);
      if (!is_configured(url)) return;
      Node& node = nodes[url];
      changed = node.healthy != is_healthy;
      node.healthy = is_healthy;
      if (!is_healthy) node.down_until = SteadyClock::now() + options.ping_interval;
    }
    if (!changed) return;
    if (is_healthy)
      spdlog::info("Machine learning server became healthy ({})", url);
    else
      spdlog::warn("Machine learning server became unhealthy ({})", url);
  }

  // Counts an attempt in flight.
  void begin_attempt(const std::string& url) {
    std::lock_guard lock(mutex);
    if (!is_configured(url)) return;
    Node& node = nodes[url];
    ++node.outstanding;
    ++node.requests;
    ++attempts_started;
    node.last_sent = SteadyClock::now();
  }

  // Ends an attempt: a success feeds the task's latency average, a failure marks the node down.
  void end_attempt(const std::string& url, const std::string& task, bool ok, SteadyClock::duration took) {
    {
      std::lock_guard lock(mutex);
      const auto found = nodes.find(url);
      if (found == nodes.end()) return;  // reconfigured away meanwhile
      Node& node = found->second;
      node.outstanding = std::max(0, node.outstanding - 1);
      if (ok) {
        constexpr double kWeight = 0.2;  // about the last 10 requests
        const double ms = std::chrono::duration<double, std::milli>(took).count();
        const auto now = SteadyClock::now();
        auto [average, first] = node.latency.try_emplace(task, Latency{ms, std::nullopt});
        // A node's first answer to a task includes loading the model (seconds, against milliseconds after):
        // it is reported but ranks nothing, else that node would look slow and idle for dozens of requests.
        // A stale average restarts from the new sample for the same reason: a blend would keep a node that was
        // slow for a while ranked slow for many validity periods after it has become fast.
        if (!first) {
          if (is_fresh(average->second, now))
            average->second.ms += kWeight * (ms - average->second.ms);
          else
            average->second.ms = ms;
          average->second.measured_at = now;
          average->second.measured_after_attempts = attempts_started;
        }
      } else {
        ++node.failures;
      }
    }
    set_health(url, ok);
  }

  bool ping(const std::string& url, std::chrono::milliseconds timeout, const std::string& api_key) {
    auto base = base_directory(url);
    if (!base) return false;
    http::ClientRequest request;
    request.url = *base + "ping";
    request.connect_timeout = timeout;
    request.timeout = timeout;
    if (!api_key.empty()) request.headers.emplace_back("x-api-key", api_key);
    std::string body;
    const auto result = client.perform(request, body, 4096);
    return result.transport_ok && result.status == 200;
  }

  void ping_all() {
    ClientOptions snapshot;
    {
      std::lock_guard lock(mutex);
      snapshot = options;
    }
    for (const auto& url : snapshot.urls) set_health(url, ping(url, snapshot.ping_timeout, snapshot.api_key));
  }

  void run_health_loop() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      lock.unlock();
      ping_all();
      lock.lock();
      wake.wait_for(lock, options.ping_interval, [this] { return stopping; });
    }
  }

  void start() {
    std::lock_guard lock(mutex);
    if (running || !options.enabled || !options.availability_checks) return;
    stopping = false;
    running = true;
    health_thread = std::thread([this] { run_health_loop(); });
  }

  void stop() {
    std::thread thread;
    {
      std::lock_guard lock(mutex);
      if (!running) return;
      stopping = true;
      running = false;
      thread = std::move(health_thread);
    }
    wake.notify_all();
    thread.join();
  }

  // Usable URLs first, then the others (configured order) as a last resort. Usable URLs keep the configured
  // order (fallback) or go cheapest first (least-outstanding).
  std::vector<std::string> attempt_order(std::string_view task) const {
    std::lock_guard lock(mutex);
    const auto now = SteadyClock::now();
    std::vector<std::string> first;
    std::vector<std::string> rest;
    for (const auto& url : options.urls) (usable(url, now) ? first : rest).push_back(url);
    if (options.balance == Balance::kLeastOutstanding && first.size() > 1) {
      // A node without a (recent) measurement of this task (past its warm-up answer) counts as the fastest
      // measured one and wins a tie, so a new (or newly healthy) node is tried and measured soon; then the node
      // that has waited longest since its last request does (a new node does not take every request until its
      // count catches up with the others'). Latencies within kSameSpeed of the fastest count as the fastest:
      // nodes of one speed measure a little apart from noise alone, and a strict ranking would then give one
      // of them nearly every request whenever fewer requests than nodes are in flight.
      constexpr double kSameSpeed = 1.5;
      const auto latency_of = [&](const Node& node) -> std::optional<double> {
        const auto found = node.latency.find(task);
        if (found == node.latency.end() || !is_fresh(found->second, now)) return std::nullopt;
        return found->second.ms;
      };
      double fastest_ms = 0;
      for (const auto& url : first)
        if (auto node = nodes.find(url); node != nodes.end())
          if (auto ms = latency_of(node->second))
            fastest_ms = fastest_ms == 0 ? *ms : std::min(fastest_ms, *ms);
      const auto rank = [&](const std::string& url) {
        const auto node = nodes.find(url);
        if (node == nodes.end())
          return std::tuple{std::max(fastest_ms, 0.01), false, SteadyClock::time_point{}};
        const auto measured = latency_of(node->second);
        double latency = measured.value_or(fastest_ms);
        if (latency <= kSameSpeed * fastest_ms) latency = fastest_ms;
        latency = std::max(latency, 0.01);
        return std::tuple{(node->second.outstanding + 1) * latency, measured.has_value(),
                          node->second.last_sent};
      };
      std::stable_sort(first.begin(), first.end(),
                       [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
    }
    first.insert(first.end(), rest.begin(), rest.end());
    return first;
  }
};

HttpMlClient::HttpMlClient(ClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

HttpMlClient::~HttpMlClient() { impl_->stop(); }

void HttpMlClient::configure(ClientOptions options) {
  const bool was_running = [&] {
    std::lock_guard lock(impl_->mutex);
    return impl_->running;
  }();
  impl_->stop();
  {
    std::lock_guard lock(impl_->mutex);
    impl_->options = std::move(options);
    std::erase_if(impl_->nodes, [&](const auto& entry) { return !impl_->is_configured(entry.first); });
  }
  if (was_running) impl_->start();
}

void HttpMlClient::start() { impl_->start(); }
void HttpMlClient::stop() { impl_->stop(); }
void HttpMlClient::check_health_now() { impl_->ping_all(); }

bool HttpMlClient::is_healthy(std::string_view url) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->usable(url, Impl::SteadyClock::now());
}

std::vector<std::string> HttpMlClient::urls() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->options.urls;
}

std::vector<NodeStatus> HttpMlClient::nodes() const {
  std::lock_guard lock(impl_->mutex);
  const auto now = Impl::SteadyClock::now();
  std::vector<NodeStatus> out;
  for (const auto& url : impl_->options.urls) {
    NodeStatus status;
    status.url = url;
    status.healthy = impl_->usable(url, now);
    if (auto node = impl_->nodes.find(url); node != impl_->nodes.end()) {
      status.outstanding = node->second.outstanding;
      status.requests = node->second.requests;
      status.failures = node->second.failures;
      for (const auto& [task, latency] : node->second.latency) status.latency_ms[task] = latency.ms;
    }
    out.push_back(std::move(status));
  }
  return out;
}

Balance HttpMlClient::balance() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->options.balance;
}

void render_node_metrics(const HttpMlClient& client, std::string& out) {
  const auto nodes = client.nodes();
  const std::vector<std::string> url_label{"url"};
  const auto family = [&](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  const auto sample = [&](const char* name, const Labels& labels, double value,
                          const std::vector<std::string>& names) {
    out += name + format_labels(names, labels) + " " + format_value(value) + "\n";
  };
  family("focal_ml_balance", "gauge", "1 for the machineLearning.balance mode in use");
  for (auto mode : {Balance::kFallback, Balance::kLeastOutstanding})
    sample("focal_ml_balance", {std::string(to_string(mode))}, client.balance() == mode ? 1 : 0, {"mode"});
  family("focal_ml_node_healthy", "gauge", "1 when the ML URL takes requests (health check or last request)");
  for (const auto& n : nodes) sample("focal_ml_node_healthy", {n.url}, n.healthy ? 1 : 0, url_label);
  family("focal_ml_node_outstanding", "gauge", "Requests in flight to the ML URL");
  for (const auto& n : nodes) sample("focal_ml_node_outstanding", {n.url}, n.outstanding, url_label);
  family("focal_ml_node_requests_total", "counter", "Requests sent to the ML URL");
  for (const auto& n : nodes)
    sample("focal_ml_node_requests_total", {n.url}, static_cast<double>(n.requests), url_label);
  family("focal_ml_node_failures_total", "counter",
         "Requests to the ML URL that failed (transport, timeout, non-2xx, unusable body)");
  for (const auto& n : nodes)
    sample("focal_ml_node_failures_total", {n.url}, static_cast<double>(n.failures), url_label);
  family("focal_ml_node_latency_seconds", "gauge",
         "Moving average of successful requests' latency to the ML URL, by task");
  for (const auto& n : nodes)
    for (const auto& [task, ms] : n.latency_ms)
      sample("focal_ml_node_latency_seconds", {n.url, task}, ms / 1000.0, {"url", "task"});
}

Expected<json> HttpMlClient::predict(const json& entries, std::string_view image_bytes,
                                     std::string_view text) {
  auto answer = impl_->predict(entries, image_bytes, text);
  if (!answer) return answer.error();
  return std::move(answer->body);
}

Expected<Answer> HttpMlClient::Impl::predict(const json& entries, std::string_view image_bytes,
                                             std::string_view text) {
  ClientOptions snapshot;
  {
    std::lock_guard lock(mutex);
    snapshot = options;
  }
  const std::string entries_json = entries.dump();
  if (!snapshot.enabled)
    return bad_request("Machine learning is disabled (machineLearning.enabled is false)");

  // Immich appends `entries` first, then the payload: `image` as a Blob (filename "blob", octet-stream) or
  // `text`.
  http::ClientRequest request;
  request.form.push_back({"entries", entries_json, "", ""});
  if (!image_bytes.empty())
    request.form.push_back({"image", image_bytes, "blob", "application/octet-stream"});
  else
    request.form.push_back({"text", text, "", ""});
  if (!snapshot.api_key.empty()) request.headers.emplace_back("x-api-key", snapshot.api_key);
  request.connect_timeout = snapshot.connect_timeout;
  request.timeout = snapshot.request_timeout;

  const std::string task = task_of(entries);
  for (const auto& url : attempt_order(task)) {
    auto base = base_directory(url);
    if (!base) {
      spdlog::warn("Machine learning request to \"{}\" failed: {}", url, base.error().message);
      set_health(url, false);
      continue;
    }
    request.url = *base + "predict";
    std::string response_body;
    const auto started = SteadyClock::now();
    begin_attempt(url);
    const auto response = client.perform(request, response_body, snapshot.max_response_bytes);
    const auto took = SteadyClock::now() - started;
    if (!response.transport_ok) {
      end_attempt(url, task, false, took);
      if (response.status >= 200 && response.status < 300)
        return internal_error("Machine learning response from \"" + url + "\" is larger than " +
                              std::to_string(snapshot.max_response_bytes) + " bytes");
      spdlog::warn("Machine learning request to \"{}\" failed: {}", url, response.error);
      continue;
    }
    if (response.status < 200 || response.status >= 300) {
      end_attempt(url, task, false, took);
      spdlog::warn("Machine learning request to \"{}\" failed with status {}: {}", url, response.status,
                   clip_text_for_log(response_body));
      continue;
    }
    json body = json::parse(response_body, nullptr, false);
    const bool usable_body = !body.is_discarded() && body.is_object();
    end_attempt(url, task, usable_body, took);
    if (!usable_body)
      return internal_error("Machine learning response from \"" + url + "\" is not a JSON object");
    return Answer{std::move(body), url};
  }
  return Error{ErrorKind::kUnavailable,
               "Machine learning request '" + entries_json + "' failed for all URLs"};
}

Expected<std::vector<float>> HttpMlClient::clip_image(std::string_view model_name,
                                                      std::string_view image_bytes) {
  if (image_bytes.empty()) return bad_request("clip_image: no image bytes");
  const json entries = {{"clip", {{"visual", {{"modelName", model_name}}}}}};
  auto answer = impl_->predict(entries, image_bytes, {});
  if (!answer) return answer.error();
  return parse_clip_embedding(answer->body, answer->url);
}

Expected<std::vector<float>> HttpMlClient::clip_text(std::string_view model_name, std::string_view text,
                                                     std::string_view language) {
  // Immich's JSON.stringify drops an undefined language, leaving "options":{}.
  json options = json::object();
  if (!language.empty()) options["language"] = language;
  const json entries = {{"clip", {{"textual", {{"modelName", model_name}, {"options", options}}}}}};
  auto answer = impl_->predict(entries, {}, text);
  if (!answer) return answer.error();
  return parse_clip_embedding(answer->body, answer->url);
}

Expected<FaceDetection> HttpMlClient::detect_faces(std::string_view detection_model,
                                                   std::string_view recognition_model, double min_score,
                                                   std::string_view image_bytes) {
  if (image_bytes.empty()) return bad_request("detect_faces: no image bytes");
  const json entries = {
      {"facial-recognition",
       {{"detection", {{"modelName", detection_model}, {"options", {{"minScore", min_score}}}}},
        {"recognition", {{"modelName", recognition_model}}}}}};
  auto answer = impl_->predict(entries, image_bytes, {});
  if (!answer) return answer.error();
  return parse_face_detection(answer->body, answer->url);
}

Expected<std::vector<TextLine>> MlClient::ocr(std::string_view, const OcrOptions&, std::string_view) {
  return Error{ErrorKind::kUnavailable, "this machine-learning client has no OCR"};
}

Expected<std::vector<TextLine>> HttpMlClient::ocr(std::string_view model_name, const OcrOptions& options,
                                                  std::string_view image_bytes) {
  if (image_bytes.empty()) return bad_request("ocr: no image bytes");
  const json entries = {
      {"ocr",
       {{"detection",
         {{"modelName", model_name},
          {"options",
           {{"minScore", options.min_detection_score}, {"maxResolution", options.max_resolution}}}}},
        {"recognition",
         {{"modelName", model_name}, {"options", {{"minScore", options.min_recognition_score}}}}}}}};
  auto answer = impl_->predict(entries, image_bytes, {});
  if (!answer) return answer.error();
  return parse_ocr(answer->body, answer->url);
}

}  // namespace focal::ml
