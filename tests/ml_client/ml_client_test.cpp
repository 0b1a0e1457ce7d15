// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ml_client/ml_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <thread>

#include "http/multipart.h"
#include "settings/settings.h"
#include "store/database.h"
#include "support/http_test_server.h"

namespace focal::ml {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// What a fake ML node saw in one /predict request.
struct SeenRequest {
  std::string path;
  std::string entries;
  std::string image;
  std::string image_filename;
  std::string text;
  bool has_text = false;
  std::string api_key;
  std::string content_type;
};

// An Immich-compatible ML node in-process: /ping and /predict (optionally under a path prefix), answering
// like focal-ml, or slowly, or with a configured body.
class FakeMlServer {
 public:
  enum class Mode { kHealthy, kSlow };

  explicit FakeMlServer(Mode mode, std::string prefix = "", int port = 0)
      : mode_(mode), prefix_(std::move(prefix)), server_(port) {
    server_.on("GET", prefix_ + "/ping", [this](const http::Request&) {
      ++pings_;
      if (mode_ == Mode::kSlow) wait_long();
      return http::Response::text(200, "pong", "text/plain");
    });
    server_.on("POST", prefix_ + "/predict", [this](const http::Request& req) {
      SeenRequest seen;
      seen.path = req.path;
      seen.content_type = std::string(req.header("content-type").value_or(""));
      seen.api_key = std::string(req.header("x-api-key").value_or(""));
      if (auto boundary = http::multipart_boundary(seen.content_type)) {
        if (auto parts = http::parse_multipart(req.body, *boundary)) {
          if (const auto* p = http::find_part(*parts, "entries")) seen.entries = std::string(p->content);
          if (const auto* p = http::find_part(*parts, "image")) {
            seen.image = std::string(p->content);
            seen.image_filename = p->filename;
          }
          if (const auto* p = http::find_part(*parts, "text")) {
            seen.text = std::string(p->content);
            seen.has_text = true;
          }
        }
      }
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(seen);
      }
      if (mode_ == Mode::kSlow) wait_long();
      if (delay_.load() > 0ms) std::this_thread::sleep_for(delay_.load());
      std::lock_guard lock(mutex_);
      return http::Response::text(status_, body_.empty() ? default_body(seen) : body_, "application/json");
    });
    port_ = server_.start();
  }
  ~FakeMlServer() { shut_down(); }

  void shut_down() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    server_.stop();
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + prefix_; }
  std::vector<SeenRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int pings() const { return pings_; }
  // Every /predict answer takes this long (a node's inference time).
  void delay(std::chrono::milliseconds by) { delay_ = by; }
  void respond(int status, std::string body) {
    std::lock_guard lock(mutex_);
    status_ = status;
    body_ = std::move(body);
  }

 private:
  // Sleeps far beyond the client's timeouts, but ends at once on shutdown.
  void wait_long() {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, 5s, [this] { return stopping_; });
  }

  static std::string default_body(const SeenRequest& seen) {
    const json entries = json::parse(seen.entries, nullptr, false);
    if (entries.contains("clip")) {
      json body = {{"clip", "[0.5,-0.25,1.0,0.125]"}};
      if (entries["clip"].contains("visual")) {
        body["imageHeight"] = 10;
        body["imageWidth"] = 20;
      }
      return body.dump();
    }
    std::string embedding = "[";
    for (int i = 0; i < 512; ++i) embedding += (i ? "," : "") + std::to_string(i % 7 - 3);
    embedding += "]";
    return json{{"facial-recognition",
                 {{{"boundingBox", {{"x1", 1}, {"y1", 2.4}, {"x2", 30}, {"y2", 40.6}}},
                   {"embedding", embedding},
                   {"score", 0.875}}}},
                {"imageHeight", 480},
                {"imageWidth", 640}}
        .dump();
  }

  Mode mode_;
  std::string prefix_;
  test_support::HttpTestServer server_;
  int port_ = -1;
  std::atomic<int> pings_{0};
  std::atomic<std::chrono::milliseconds> delay_{0ms};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<SeenRequest> requests_;
  int status_ = 200;
  std::string body_;
};

// A port nothing listens on: bind a socket to an ephemeral port, note it, close the socket.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    return -1;
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// Captures log lines of the default logger for the test's lifetime.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    sink->set_pattern("%l %v");
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() {
    spdlog::default_logger()->flush();
    return stream_.str();
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream stream_;
};

ClientOptions options_for(std::vector<std::string> urls) {
  ClientOptions options;
  options.urls = std::move(urls);
  options.ping_timeout = 300ms;
  options.ping_interval = 50ms;
  options.request_timeout = 300ms;
  options.connect_timeout = 300ms;
  return options;
}

TEST(MlClientTest, FallsBackToTheHealthyNodeInOrder) {
  LogCapture log;
  const std::string down = "http://127.0.0.1:" + std::to_string(closed_port());
  FakeMlServer slow(FakeMlServer::Mode::kSlow);
  FakeMlServer healthy(FakeMlServer::Mode::kHealthy);
  HttpMlClient client(options_for({down, slow.url(), healthy.url()}));

  // Never pinged: nobody is healthy, so the first request tries all in configured order.
  EXPECT_FALSE(client.is_healthy(healthy.url()));
  auto first = client.clip_text("ViT-B-32__openai", "a dog", "");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, (std::vector<float>{0.5f, -0.25f, 1.0f, 0.125f}));
  EXPECT_EQ(slow.requests().size(), 1u);  // tried (and timed out) before the healthy node
  EXPECT_FALSE(client.is_healthy(down));
  EXPECT_FALSE(client.is_healthy(slow.url()));
  EXPECT_TRUE(client.is_healthy(healthy.url()));

  // Healthy nodes first: the next request goes straight to the healthy node.
  auto second = client.clip_image("ViT-B-32__openai", "\xff\xd8jpeg-bytes");
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(slow.requests().size(), 1u);
  EXPECT_EQ(healthy.requests().size(), 2u);

  const std::string text = log.text();
  EXPECT_NE(text.find("Machine learning request to \"" + down + "\" failed: "), std::string::npos) << text;
  EXPECT_NE(text.find("Machine learning request to \"" + slow.url() + "\" failed: "), std::string::npos)
      << text;
  EXPECT_NE(text.find("Machine learning server became unhealthy (" + down + ")"), std::string::npos) << text;
  EXPECT_NE(text.find("Machine learning server became healthy (" + healthy.url() + ")"), std::string::npos)
      << text;
}

TEST(MlClientTest, HealthChecksOrderRequestsAndRecoveryIsSeen) {
  LogCapture log;
  const int down_port = closed_port();
  const std::string down = "http://127.0.0.1:" + std::to_string(down_port);
  FakeMlServer healthy(FakeMlServer::Mode::kHealthy);
  HttpMlClient client(options_for({down, healthy.url()}));
  client.check_health_now();
  EXPECT_FALSE(client.is_healthy(down));
  EXPECT_TRUE(client.is_healthy(healthy.url()));
  ASSERT_TRUE(client.clip_text("ViT-B-32__openai", "x", "").ok());
  EXPECT_EQ(healthy.requests().size(), 1u);

  // The down node comes back: after a ping round it is healthy and, being first in the list, gets the
  // traffic.
  FakeMlServer revived(FakeMlServer::Mode::kHealthy, "", down_port);
  ASSERT_EQ(revived.port(), down_port);
  client.check_health_now();
  EXPECT_TRUE(client.is_healthy(down));
  ASSERT_TRUE(client.clip_text("ViT-B-32__openai", "y", "").ok());
  EXPECT_EQ(revived.requests().size(), 1u);
  EXPECT_EQ(healthy.requests().size(), 1u);
  const std::string text = log.text();
  EXPECT_NE(text.find("warning Machine learning server became unhealthy (" + down + ")"), std::string::npos);
  EXPECT_NE(text.find("info Machine learning server became healthy (" + down + ")"), std::string::npos);
  // Transitions only: exactly one "unhealthy" line for the down node despite two ping rounds and a request.
  EXPECT_EQ(text.find("became unhealthy (" + down + ")"), text.rfind("became unhealthy (" + down + ")"))
      << text;
}

TEST(MlClientTest, BackgroundThreadPingsAndStops) {
  FakeMlServer healthy(FakeMlServer::Mode::kHealthy);
  HttpMlClient client(options_for({healthy.url()}));
  client.start();
  for (int i = 0; i < 200 && healthy.pings() < 3; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(healthy.pings(), 3);  // immediate round plus rounds every 50 ms
  EXPECT_TRUE(client.is_healthy(healthy.url()));
  client.stop();
  const int after_stop = healthy.pings();
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(healthy.pings(), after_stop);
}

TEST(MlClientTest, AllUrlsDownIsUnavailableWithImmichsMessage) {
  const std::string a = "http://127.0.0.1:" + std::to_string(closed_port());
  FakeMlServer failing(FakeMlServer::Mode::kHealthy);
  failing.respond(500, R"({"detail":"boom"})");
  HttpMlClient client(options_for({a, failing.url()}));
  LogCapture log;
  auto result = client.clip_text("ViT-B-32__openai", "cat", "de");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(
      result.error().message,
      R"(Machine learning request '{"clip":{"textual":{"modelName":"ViT-B-32__openai","options":{"language":"de"}}}}' failed for all URLs)");
  EXPECT_NE(log.text().find("Machine learning request to \"" + failing.url() +
                            "\" failed with status 500: {\"detail\":\"boom\"}"),
            std::string::npos)
      << log.text();
}

TEST(MlClientTest, RequestsAreByteCompatibleWithImmich) {
  FakeMlServer node(FakeMlServer::Mode::kHealthy, "/ml");
  ClientOptions options = options_for({node.url() + "/"});  // a sub-path: ping/predict resolve relative to it
  options.api_key = "secret";
  HttpMlClient client(options);
  client.check_health_now();
  EXPECT_TRUE(client.is_healthy(node.url() + "/"));

  const std::string jpeg = std::string("\xff\xd8\xff") + '\0' + "binary" + '\0' + "bytes";
  ASSERT_TRUE(client.clip_image("ViT-B-32__openai", jpeg).ok());
  ASSERT_TRUE(client.clip_text("ViT-B-32__openai", "a red car", "").ok());
  auto faces = client.detect_faces("buffalo_l", "buffalo_l", 0.7, jpeg);
  ASSERT_TRUE(faces.ok()) << faces.error().message;

  const auto seen = node.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].path, "/ml/predict");
  EXPECT_NE(seen[0].content_type.find("multipart/form-data; boundary="), std::string::npos);
  EXPECT_EQ(seen[0].entries, R"({"clip":{"visual":{"modelName":"ViT-B-32__openai"}}})");
  EXPECT_EQ(seen[0].image, jpeg);
  EXPECT_EQ(seen[0].image_filename, "blob");
  EXPECT_FALSE(seen[0].has_text);
  EXPECT_EQ(seen[0].api_key, "secret");
  EXPECT_EQ(seen[1].entries, R"({"clip":{"textual":{"modelName":"ViT-B-32__openai","options":{}}}})");
  EXPECT_EQ(seen[1].text, "a red car");
  EXPECT_TRUE(seen[1].image.empty());
  EXPECT_EQ(
      seen[2].entries,
      R"({"facial-recognition":{"detection":{"modelName":"buffalo_l","options":{"minScore":0.7}},"recognition":{"modelName":"buffalo_l"}}})");

  EXPECT_EQ(faces->image_width, 640);
  EXPECT_EQ(faces->image_height, 480);
  ASSERT_EQ(faces->faces.size(), 1u);
  EXPECT_EQ(faces->faces[0].box.x1, 1);
  EXPECT_EQ(faces->faces[0].box.y1, 2);
  EXPECT_EQ(faces->faces[0].box.y2, 41);
  EXPECT_FLOAT_EQ(faces->faces[0].score, 0.875f);
  ASSERT_EQ(faces->faces[0].embedding.size(), 512u);
  EXPECT_EQ(faces->faces[0].embedding[1], -2.0f);
}

TEST(MlClientTest, MalformedResponsesAreErrorsNamingTheUrl) {
  FakeMlServer node(FakeMlServer::Mode::kHealthy);
  HttpMlClient client(options_for({node.url()}));
  const std::vector<std::string> bad_bodies = {"not json",
                                               R"({"clip":"[1,2,"})",
                                               R"({"clip":"[]"})",
                                               R"({"clip":["a"]})",
                                               R"({"clip":{"x":1}})",
                                               R"({"other":1})",
                                               "[1,2,3]"};
  for (const auto& body : bad_bodies) {
    node.respond(200, body);
    auto result = client.clip_text("ViT-B-32__openai", "x", "");
    ASSERT_FALSE(result.ok()) << body;
    EXPECT_NE(result.error().kind, ErrorKind::kUnavailable) << body;  // a 2xx answer: not retried elsewhere
    EXPECT_NE(result.error().message.find(node.url()), std::string::npos) << result.error().message;
  }
  // Embeddings of any size are accepted (128-d MobileFaceNet), but one response holds one size.
  node.respond(200,
               R"({"facial-recognition":[{"boundingBox":{"x1":0,"y1":0,"x2":1,"y2":1},"embedding":"[1,2]",
                        "score":0.9}],"imageWidth":10,"imageHeight":10})");
  auto small = client.detect_faces("buffalo_l", "buffalo_l", 0.7, "img");
  ASSERT_TRUE(small.ok()) << small.error().message;
  EXPECT_EQ(small->faces.at(0).embedding, (std::vector<float>{1, 2}));
  node.respond(200,
               R"({"facial-recognition":[{"boundingBox":{"x1":0,"y1":0,"x2":1,"y2":1},"embedding":"[1,2]",
                        "score":0.9},{"boundingBox":{"x1":0,"y1":0,"x2":1,"y2":1},"embedding":"[1,2,3]",
                        "score":0.9}],"imageWidth":10,"imageHeight":10})");
  auto faces = client.detect_faces("buffalo_l", "buffalo_l", 0.7, "img");
  ASSERT_FALSE(faces.ok());
  EXPECT_NE(faces.error().message.find("different sizes (2 and 3)"), std::string::npos)
      << faces.error().message;
  node.respond(200, R"({"facial-recognition":[],"imageWidth":0,"imageHeight":10})");
  EXPECT_FALSE(client.detect_faces("buffalo_l", "buffalo_l", 0.7, "img").ok());
  node.respond(200, R"({"facial-recognition":[],"imageWidth":10,"imageHeight":10})");
  auto none = client.detect_faces("buffalo_l", "buffalo_l", 0.7, "img");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->faces.empty());
}

TEST(MlClientTest, DisabledAndChecksOffAndLiveReconfiguration) {
  FakeMlServer a(FakeMlServer::Mode::kHealthy);
  FakeMlServer b(FakeMlServer::Mode::kHealthy);
  ClientOptions options = options_for({a.url()});
  options.availability_checks = false;
  HttpMlClient client(options);
  EXPECT_TRUE(client.is_healthy(a.url()));  // checks off: every URL counts as healthy
  ASSERT_TRUE(client.clip_text("m", "x", "").ok());
  EXPECT_EQ(a.requests().size(), 1u);

  options.urls = {b.url()};
  client.configure(options);
  EXPECT_EQ(client.urls(), std::vector<std::string>{b.url()});
  ASSERT_TRUE(client.clip_text("m", "x", "").ok());
  EXPECT_EQ(b.requests().size(), 1u);
  EXPECT_EQ(a.requests().size(), 1u);

  options.enabled = false;
  client.configure(options);
  auto off = client.clip_text("m", "x", "");
  ASSERT_FALSE(off.ok());
  EXPECT_EQ(off.error().kind, ErrorKind::kBadRequest);
}

TEST(MlClientTest, FollowsUrlChangesInSettings) {
  FakeMlServer a(FakeMlServer::Mode::kHealthy);
  FakeMlServer b(FakeMlServer::Mode::kHealthy);
  auto db = store::Database::open({.path = ":memory:", .reader_connections = 1});
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(settings::migrate(**db).ok());
  auto store = settings::SettingsStore::open(**db, {{"IMMICH_MACHINE_LEARNING_URL", a.url()}});
  ASSERT_TRUE(store.ok());
  HttpMlClient client(ClientOptions{});
  const int id = follow_settings(client, **store, {});
  EXPECT_EQ(client.urls(), std::vector<std::string>{a.url()});
  ASSERT_TRUE((*store)->set_path("machineLearning.urls", b.url()).ok());
  EXPECT_EQ(client.urls(), std::vector<std::string>{b.url()});
  ASSERT_TRUE(client.clip_text("ViT-B-32__openai", "x", "").ok());
  EXPECT_EQ(b.requests().size(), 1u);
  EXPECT_EQ(a.requests().size(), 0u);
  (*store)->unsubscribe(id);
}

TEST(MlClientTest, OptionsFromSettingsAndEnvironment) {
  settings::SystemConfig config = settings::default_config({{"IMMICH_MACHINE_LEARNING_URL", "http://x:1"}});
  config.machine_learning.availability_checks.timeout_ms = 1234;
  const ClientOptions options =
      client_options(config, {{"FOCAL_ML_API_KEY", "k"}, {"FOCAL_ML_REQUEST_TIMEOUT_MS", "5000"}});
  EXPECT_EQ(options.urls, std::vector<std::string>{"http://x:1"});
  EXPECT_EQ(options.ping_timeout, 1234ms);
  EXPECT_EQ(options.ping_interval, 30000ms);
  EXPECT_EQ(options.request_timeout, 5000ms);
  EXPECT_EQ(options.api_key, "k");
  EXPECT_EQ(client_options(config, {}).request_timeout, 120000ms);
}

TEST(MlClientTest, OcrResponsesParseIntoLines) {
  const json body = json::parse(R"({"ocr":{"text":["Hello","World"],
      "box":[0,0,0.5,0,0.5,0.1,0,0.1, 0.1,0.2,0.9,0.2,0.9,0.3,0.1,0.3],
      "boxScore":[0.9,0.8],"textScore":[0.99,0.7]}})");
  auto lines = parse_ocr(body, "http://ml");
  ASSERT_TRUE(lines.ok()) << lines.error().message;
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[0].text, "Hello");
  EXPECT_FLOAT_EQ((*lines)[0].box[2], 0.5f);
  EXPECT_FLOAT_EQ((*lines)[1].box[0], 0.1f);
  EXPECT_FLOAT_EQ((*lines)[1].box_score, 0.8f);
  EXPECT_FLOAT_EQ((*lines)[1].text_score, 0.7f);
  auto none = parse_ocr(json::parse(R"({"ocr":{"text":[],"box":[],"boxScore":[],"textScore":[]}})"), "u");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(MlClientTest, MalformedOcrResponsesAreErrorsNamingTheUrl) {
  const std::vector<std::string> bad_bodies = {
      R"([])",
      R"({"ocr":[]})",
      R"({"ocr":{"text":["a"],"box":[0,0,1,0,1,1,0],"boxScore":[1],"textScore":[1]}})",  // 7 numbers
      R"({"ocr":{"text":["a","b"],"box":[0,0,1,0,1,1,0,1],"boxScore":[1],"textScore":[1]}})",
      R"({"ocr":{"text":["a"],"box":[0,0,1,0,1,1,0,1],"boxScore":[1]}})",
      R"({"ocr":{"text":[1],"box":[0,0,1,0,1,1,0,1],"boxScore":[1],"textScore":[1]}})",
      R"({"ocr":{"text":["a"],"box":[0,0,1,0,1,1,0,"x"],"boxScore":[1],"textScore":[1]}})",
      R"({"ocr":{"text":["a"],"box":[0,0,1,0,1,1,0,9],"boxScore":[1],"textScore":[1]}})",  // far outside
  };
  for (const auto& body : bad_bodies) {
    auto lines = parse_ocr(json::parse(body), "http://node-7");
    ASSERT_FALSE(lines.ok()) << body;
    EXPECT_NE(lines.error().kind, ErrorKind::kUnavailable) << body;
    EXPECT_NE(lines.error().message.find("http://node-7"), std::string::npos) << lines.error().message;
  }
}

// Sends `total` clip_text requests from `threads` threads at once; every one must succeed.
void load(HttpMlClient& client, int threads, int total) {
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      while (next.fetch_add(1) < total)
        if (!client.clip_text("ViT-B-32__openai", "a dog", "").ok()) ++failed;
    });
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(failed.load(), 0);
}

std::vector<std::size_t> request_counts(const std::vector<FakeMlServer*>& servers) {
  std::vector<std::size_t> out;
  for (const auto* server : servers) out.push_back(server->requests().size());
  return out;
}

// least-outstanding over `urls`, with a request timeout far above the fake nodes' delays.
ClientOptions balanced(std::vector<std::string> urls) {
  ClientOptions options = options_for(std::move(urls));
  options.balance = Balance::kLeastOutstanding;
  options.request_timeout = 5s;
  return options;
}

// A slow (80 ms) and a fast (5 ms) node.
struct SlowAndFast {
  SlowAndFast() {
    slow.delay(80ms);
    fast.delay(5ms);
  }
  FakeMlServer slow{FakeMlServer::Mode::kHealthy};
  FakeMlServer fast{FakeMlServer::Mode::kHealthy};
};

// Two healthy nodes answering after the given delays (each changeable later with delay()).
struct TwoNodes {
  TwoNodes(std::chrono::milliseconds a_delay, std::chrono::milliseconds b_delay) {
    a.delay(a_delay);
    b.delay(b_delay);
  }
  FakeMlServer a{FakeMlServer::Mode::kHealthy};
  FakeMlServer b{FakeMlServer::Mode::kHealthy};
};

TEST(MlClientBalanceTest, NamesParseAndSettingsChooseTheMode) {
  EXPECT_EQ(parse_balance("fallback"), Balance::kFallback);
  EXPECT_EQ(parse_balance("least-outstanding"), Balance::kLeastOutstanding);
  EXPECT_EQ(parse_balance("round-robin"), std::nullopt);
  EXPECT_EQ(to_string(Balance::kLeastOutstanding), "least-outstanding");
  settings::SystemConfig config = settings::default_config({});
  EXPECT_EQ(client_options(config, {}).balance, Balance::kFallback);  // Immich's behaviour by default
  config.machine_learning.balance = "least-outstanding";
  EXPECT_TRUE(config.validate().ok());
  EXPECT_EQ(client_options(config, {}).balance, Balance::kLeastOutstanding);
  config.machine_learning.balance = "round-robin";
  auto invalid = config.validate();
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().message, "machineLearning.balance must be \"fallback\" or \"least-outstanding\"");
}

TEST(MlClientBalanceTest, FallbackSendsEverythingToTheFirstHealthyNode) {
  FakeMlServer a(FakeMlServer::Mode::kHealthy);
  FakeMlServer b(FakeMlServer::Mode::kHealthy);
  FakeMlServer c(FakeMlServer::Mode::kHealthy);
  for (auto* node : {&a, &b, &c}) node->delay(20ms);
  HttpMlClient client(options_for({a.url(), b.url(), c.url()}));
  client.check_health_now();
  load(client, 6, 30);
  EXPECT_EQ(request_counts({&a, &b, &c}), (std::vector<std::size_t>{30, 0, 0}));
}

TEST(MlClientBalanceTest, LeastOutstandingKeepsEveryHealthyNodeBusy) {
  FakeMlServer a(FakeMlServer::Mode::kHealthy);
  FakeMlServer b(FakeMlServer::Mode::kHealthy);
  FakeMlServer c(FakeMlServer::Mode::kHealthy);
  for (auto* node : {&a, &b, &c}) node->delay(30ms);
  HttpMlClient client(balanced({a.url(), b.url(), c.url()}));
  client.check_health_now();
  load(client, 6, 60);
  const auto counts = request_counts({&a, &b, &c});
  // Six requests in flight over three equal nodes: two each at any time, so each takes about a third.
  for (std::size_t n : counts) EXPECT_GE(n, 12u) << counts[0] << " " << counts[1] << " " << counts[2];

  const auto nodes = client.nodes();
  ASSERT_EQ(nodes.size(), 3u);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    EXPECT_EQ(nodes[i].requests, counts[i]);
    EXPECT_EQ(nodes[i].failures, 0u);
    EXPECT_EQ(nodes[i].outstanding, 0);
    EXPECT_TRUE(nodes[i].healthy);
    ASSERT_EQ(nodes[i].latency_ms.count("clip.textual"), 1u);
    EXPECT_GE(nodes[i].latency_ms.at("clip.textual"), 25.0);
    total += nodes[i].requests;
  }
  EXPECT_EQ(total, 60u);
}

TEST(MlClientBalanceTest, LeastOutstandingWeighsByMeasuredLatency) {
  SlowAndFast nodes;
  auto& [slow, fast] = nodes;
  HttpMlClient client(balanced({slow.url(), fast.url()}));
  client.check_health_now();
  // One request at a time: both are idle, so the measured latency decides once each has answered twice (the
  // first answer is the warm-up, a model load on a real node, and ranks nothing).
  load(client, 1, 20);
  EXPECT_EQ(slow.requests().size(), 2u);
  EXPECT_EQ(fast.requests().size(), 18u);
  // The latency is per task: image requests have no measurement yet, so both nodes are tried again.
  ASSERT_TRUE(client.clip_image("ViT-B-32__openai", "\xff\xd8jpeg").ok());
  ASSERT_TRUE(client.clip_image("ViT-B-32__openai", "\xff\xd8jpeg").ok());
  EXPECT_EQ(slow.requests().size(), 3u);
  EXPECT_EQ(fast.requests().size(), 19u);
}

TEST(MlClientBalanceTest, AnOldLatencyStopsRankingItsNode) {
  SlowAndFast nodes;
  auto& [slow, fast] = nodes;
  ClientOptions options = balanced({slow.url(), fast.url()});
  options.latency_validity = 1s;
  HttpMlClient client(options);
  client.check_health_now();
  load(client, 1, 5);
  ASSERT_EQ(slow.requests().size(), 2u);  // the warm-up and one sample
  // The slow node's sample expires while the fast one is kept fresh by traffic: the slow node is unmeasured
  // again and gets the next request. Few requests, spread over the second: fewer than the 20 after which a
  // sample is old by count anyway.
  const auto until = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < until && slow.requests().size() == 2u) {
    ASSERT_TRUE(client.clip_text("m", "x", "").ok());
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(slow.requests().size(), 3u);
}

TEST(MlClientBalanceTest, ANodeSlowOnlyAtFirstGetsItsShareOnceItsSampleIsOld) {
  // Node a's first answers are slow (as on a node busy with other work for a while), then it is as fast as b.
  TwoNodes nodes(400ms, 10ms);
  auto& [a, b] = nodes;
  ClientOptions options = balanced({a.url(), b.url()});
  options.latency_validity = 500ms;
  HttpMlClient client(options);
  client.check_health_now();
  load(client, 1, 4);  // each node's warm-up, then one sample each
  ASSERT_EQ(request_counts({&a, &b}), (std::vector<std::size_t>{2, 2}));
  a.delay(10ms);
  // b takes everything until a's sample is old; a's next sample replaces the 400 ms (a blend would still
  // say 300 ms and idle a for several more validity periods), and from then on the two share the requests.
  const auto until = std::chrono::steady_clock::now() + 700ms;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_TRUE(client.clip_text("m", "x", "").ok());
    std::this_thread::sleep_for(5ms);
  }
  const auto before = request_counts({&a, &b});
  load(client, 1, 40);
  const auto after = request_counts({&a, &b});
  EXPECT_GE(after[0] - before[0], 12u) << "a " << after[0] - before[0] << ", b " << after[1] - before[1];
  EXPECT_GE(after[1] - before[1], 12u) << "a " << after[0] - before[0] << ", b " << after[1] - before[1];
}

TEST(MlClientBalanceTest, AWarmUpAnswerDoesNotRankItsNode) {
  // Node a's first answer is slow, as a real node's is while it loads the model; from its second on, a is as
  // fast as b and shares the requests at once.
  TwoNodes nodes(400ms, 10ms);
  auto& [a, b] = nodes;
  HttpMlClient client(balanced({a.url(), b.url()}));
  client.check_health_now();
  load(client, 1, 2);
  ASSERT_EQ(request_counts({&a, &b}), (std::vector<std::size_t>{1, 1}));
  a.delay(10ms);
  load(client, 1, 40);
  const auto counts = request_counts({&a, &b});
  EXPECT_GE(counts[0], 13u) << "a " << counts[0] << ", b " << counts[1];
  EXPECT_GE(counts[1], 13u) << "a " << counts[0] << ", b " << counts[1];
}

TEST(MlClientBalanceTest, EqualNodesShareSequentialRequestsEvenly) {
  // One request at a time over nodes of one speed: noise in the measured latencies must not hand one of
  // them nearly everything.
  FakeMlServer a(FakeMlServer::Mode::kHealthy);
  FakeMlServer b(FakeMlServer::Mode::kHealthy);
  FakeMlServer c(FakeMlServer::Mode::kHealthy);
  // Answers of tens of ms, so that the client's own overhead (slow under sanitizers) is small beside them.
  a.delay(50ms);
  b.delay(60ms);  // 20 % slower: still "the same speed"
  c.delay(50ms);
  HttpMlClient client(balanced({a.url(), b.url(), c.url()}));
  client.check_health_now();
  load(client, 1, 24);
  const auto counts = request_counts({&a, &b, &c});
  for (std::size_t n : counts) EXPECT_GE(n, 5u) << counts[0] << " " << counts[1] << " " << counts[2];
}

TEST(MlClientBalanceTest, ASlowSampleIsRemeasuredAfterTwentyRequests) {
  // One slow answer from a (a busy moment), then a is as fast as b again: well within the 5 s validity, a is
  // measured again once 20 requests have gone elsewhere, and shares the requests from then on.
  TwoNodes nodes(10ms, 10ms);
  auto& [a, b] = nodes;
  HttpMlClient client(balanced({a.url(), b.url()}));
  client.check_health_now();
  load(client, 1, 2);  // the warm-ups
  a.delay(200ms);
  load(client, 1, 2);  // a's slow sample, b's sample
  ASSERT_EQ(request_counts({&a, &b}), (std::vector<std::size_t>{2, 2}));
  a.delay(10ms);
  load(client, 1, 19);
  EXPECT_EQ(request_counts({&a, &b}), (std::vector<std::size_t>{2, 21}));  // a idle: its sample still counts
  load(client, 1, 10);
  const auto counts = request_counts({&a, &b});
  EXPECT_GE(counts[0], 2u + 3u) << "a " << counts[0] << ", b " << counts[1];
}

TEST(MlClientBalanceTest, ANodeThatDiesMidRunLosesItsShareAndNothingFails) {
  FakeMlServer a(FakeMlServer::Mode::kHealthy);
  FakeMlServer b(FakeMlServer::Mode::kHealthy);
  auto c = std::make_unique<FakeMlServer>(FakeMlServer::Mode::kHealthy);
  for (auto* node : {&a, &b, c.get()}) node->delay(20ms);
  const std::string dead_url = c->url();
  ClientOptions options = balanced({a.url(), b.url(), dead_url});
  options.ping_interval = 60s;  // no health check brings it back during the test
  HttpMlClient client(options);
  client.check_health_now();
  load(client, 6, 18);
  EXPECT_GT(c->requests().size(), 0u);
  c.reset();  // killed: connections are refused from now on
  load(client, 6, 30);
  const auto nodes = client.nodes();
  EXPECT_FALSE(nodes[2].healthy);
  EXPECT_GE(nodes[2].failures, 1u);
  EXPECT_EQ(nodes[0].requests + nodes[1].requests + nodes[2].requests - nodes[2].failures, 48u);

  std::string metrics;
  render_node_metrics(client, metrics);
  EXPECT_NE(metrics.find("focal_ml_balance{mode=\"least-outstanding\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("focal_ml_node_healthy{url=\"" + dead_url + "\"} 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("focal_ml_node_failures_total{url=\"" + dead_url + "\"} " +
                         std::to_string(nodes[2].failures)),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("focal_ml_node_latency_seconds{url=\"" + a.url() + "\",task=\"clip.textual\"}"),
            std::string::npos)
      << metrics;
}

TEST(MlClientBalanceTest, WithChecksOffAFailedNodeSitsOutOneInterval) {
  FakeMlServer a(FakeMlServer::Mode::kHealthy);
  const std::string down = "http://127.0.0.1:" + std::to_string(closed_port());
  ClientOptions options = options_for({down, a.url()});
  options.balance = Balance::kLeastOutstanding;
  options.availability_checks = false;
  options.ping_interval = 300ms;
  HttpMlClient client(options);
  ASSERT_TRUE(client.clip_text("m", "x", "").ok());  // tries `down` first (configured order), then `a`
  EXPECT_FALSE(client.is_healthy(down));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.clip_text("m", "x", "").ok());
  EXPECT_EQ(client.nodes()[0].requests, 1u);  // skipped while it sits out
  std::this_thread::sleep_for(350ms);
  EXPECT_TRUE(client.is_healthy(down));  // tried again after the interval
}

}  // namespace
}  // namespace focal::ml
