// SPDX-License-Identifier: AGPL-3.0-or-later
// The web UI's static files: path safety (traversal, encoded dots, symlinks out of the root), the SPA
// fallback, cache headers, precompressed variants, ETags, security headers; then through HttpServer over a
// raw socket (no client-side path normalisation), next to API routes.
#include "server/web_app.h"

#include <gtest/gtest.h>

#include <fstream>

#include "server/http_server.h"
#include "support/background_server.h"
#include "support/raw_socket.h"

namespace focal::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void write_file(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// A built web app like Vite's output, plus a secret next to the root for escapes to reach.
class WebAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    base_ = fs::temp_directory_path() / ("focal-web-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(base_);
    root_ = base_ / "web";
    write_file(root_ / "index.html", "<!doctype html><title>focal</title>");
    write_file(root_ / "assets" / "index-abc123.js", "console.log('focal')");
    write_file(root_ / "assets" / "index-abc123.js.br", "BR");
    write_file(root_ / "assets" / "index-abc123.js.gz", "GZ");
    write_file(root_ / "assets" / "index-def456.css", "body{}");
    write_file(root_ / "assets" / "index-def456.css.gz", "GZCSS");
    write_file(root_ / "favicon.ico", "ICO");
    write_file(root_ / ".env", "SECRET=1");
    write_file(base_ / "secret.txt", "top secret");
    fs::create_symlink(base_ / "secret.txt", root_ / "leak.txt");
    fs::create_directory_symlink(base_, root_ / "up");
  }
  void TearDown() override { fs::remove_all(base_); }

  static ApiRequest request(std::vector<std::string> segments, std::string method = "GET") {
    ApiRequest req;
    req.method = std::move(method);
    for (const auto& s : segments) req.path += "/" + s;
    req.segments = std::move(segments);
    return req;
  }
  static std::string header(const ApiResponse& res, std::string_view name) {
    for (const auto& [k, v] : res.headers) {
      if (k == name) return v;
    }
    return "";
  }

  fs::path base_;
  fs::path root_;
};

TEST_F(WebAppTest, ServesFilesWithTypesAndCacheHeaders) {
  WebApp web(root_);
  EXPECT_TRUE(web.installed());
  auto res = web.serve(request({"assets", "index-abc123.js"}));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(res.file, fs::canonical(root_ / "assets" / "index-abc123.js"));
  EXPECT_EQ(header(res, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(header(res, "Vary"), "Accept-Encoding");
  EXPECT_EQ(header(res, "Content-Encoding"), "");

  res = web.serve(request({"favicon.ico"}));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.content_type, "image/x-icon");
  EXPECT_EQ(header(res, "Cache-Control"), "no-cache");

  res = web.serve(request({""}));  // "/"
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(res.file.filename(), "index.html");
  EXPECT_EQ(header(res, "Cache-Control"), "no-cache");
}

TEST_F(WebAppTest, EveryAnswerCarriesTheSecurityHeaders) {
  WebApp web(root_);
  for (const auto& res : {web.serve(request({""})), web.serve(request({"missing.js"}))}) {
    EXPECT_EQ(
        header(res, "Content-Security-Policy"),
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "font-src 'self'; connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'");
    EXPECT_EQ(header(res, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(header(res, "Referrer-Policy"), "no-referrer");
    EXPECT_EQ(header(res, "X-Frame-Options"), "DENY");
  }
}

TEST_F(WebAppTest, ClientRoutesGetIndexAndMissingFilesAre404) {
  WebApp web(root_);
  for (const auto& segments : std::vector<std::vector<std::string>>{
           {"people", "12"}, {"search"}, {"assets"}, {"people", ""}, {"assets", "nothing-here"}}) {
    auto res = web.serve(request(segments));
    EXPECT_EQ(res.status, 200) << segments.front();
    EXPECT_EQ(res.file.filename(), "index.html") << segments.front();
    EXPECT_EQ(header(res, "Cache-Control"), "no-cache") << segments.front();
  }
  auto res = web.serve(request({"assets", "index-000000.js"}));
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.content_type, "application/json");
  EXPECT_EQ(json::parse(res.body)["statusCode"], 404);
  EXPECT_TRUE(res.file.empty());
}

TEST_F(WebAppTest, RefusesTraversalHiddenFilesAndSymlinksOutOfTheRoot) {
  WebApp web(root_);
  const std::vector<std::vector<std::string>> attempts = {
      {"..", "secret.txt"},  // raw ..
      {"assets", "..", "..", "secret.txt"},
      {"..%2fsecret.txt"},  // never decoded twice: a literal name, absent
      {"../secret.txt"},    // an encoded slash, decoded inside one segment
      {".", "index.html"},
      {"", "index.html"},  // empty inner segment
      {"assets\\..\\..\\secret.txt"},
      {std::string("index.html\0.js", 14)},
      {".env"},
      {"leak.txt"},          // symlink to a file outside
      {"up", "secret.txt"},  // directory symlink outside
  };
  for (const auto& segments : attempts) {
    auto res = web.serve(request(segments));
    EXPECT_EQ(res.status, 404) << res.body;
    EXPECT_TRUE(res.file.empty());
    EXPECT_EQ(res.body.find("top secret"), std::string::npos);
  }
}

TEST_F(WebAppTest, ServesPrecompressedVariantsTheClientAccepts) {
  WebApp web(root_);
  const auto js = std::vector<std::string>{"assets", "index-abc123.js"};
  const auto with = [&](std::string accept, std::vector<std::string> segments) {
    auto req = request(std::move(segments));
    req.headers.emplace("accept-encoding", std::move(accept));
    return web.serve(req);
  };
  auto res = with("gzip, deflate, br", js);
  EXPECT_EQ(header(res, "Content-Encoding"), "br");
  EXPECT_EQ(res.file.filename(), "index-abc123.js.br");
  EXPECT_EQ(res.content_type, "text/javascript; charset=utf-8");  // the type of the original
  res = with("gzip", js);
  EXPECT_EQ(header(res, "Content-Encoding"), "gzip");
  EXPECT_EQ(res.file.filename(), "index-abc123.js.gz");
  res = with("br;q=0, gzip;q=0.5", js);
  EXPECT_EQ(header(res, "Content-Encoding"), "gzip");
  res = with("*;q=0", js);
  EXPECT_EQ(header(res, "Content-Encoding"), "");
  EXPECT_EQ(res.file.filename(), "index-abc123.js");
  res = with("*", js);
  EXPECT_EQ(header(res, "Content-Encoding"), "br");
  res = with("br;q=0, *", js);
  EXPECT_EQ(header(res, "Content-Encoding"), "gzip");
  res = with("identity", js);
  EXPECT_EQ(header(res, "Content-Encoding"), "");
  res = with("br", {"assets", "index-def456.css"});  // no .br sibling
  EXPECT_EQ(header(res, "Content-Encoding"), "");
  res = with("br, gzip", {"assets", "index-def456.css"});
  EXPECT_EQ(header(res, "Content-Encoding"), "gzip");
  EXPECT_EQ(header(res, "Vary"), "Accept-Encoding");
}

TEST_F(WebAppTest, EntityTagsAnswer304) {
  WebApp web(root_);
  auto res = web.serve(request({"people"}));
  const auto tag = header(res, "ETag");
  ASSERT_FALSE(tag.empty());
  auto again = request({"people"});
  again.headers.emplace("if-none-match", "\"other\", W/" + tag);
  res = web.serve(again);
  EXPECT_EQ(res.status, 304);
  EXPECT_TRUE(res.file.empty());
  EXPECT_EQ(header(res, "ETag"), tag);
  EXPECT_EQ(header(res, "Cache-Control"), "no-cache");
  // Another variant has another tag.
  auto gz = request({"assets", "index-abc123.js"});
  gz.headers.emplace("accept-encoding", "gzip");
  auto plain = web.serve(request({"assets", "index-abc123.js"}));
  EXPECT_NE(header(web.serve(gz), "ETag"), header(plain, "ETag"));
  auto stale = request({"assets", "index-abc123.js"});
  stale.headers.emplace("if-none-match", header(web.serve(gz), "ETag"));
  EXPECT_EQ(web.serve(stale).status, 200);
}

TEST_F(WebAppTest, WithoutIndexTheRootSaysHowToInstallTheUi) {
  WebApp web(base_ / "nowhere");
  EXPECT_FALSE(web.installed());
  auto res = web.serve(request({""}));
  EXPECT_EQ(res.status, 404);
  const auto message = json::parse(res.body)["message"].get<std::string>();
  EXPECT_NE(message.find((base_ / "nowhere").string()), std::string::npos) << message;
  EXPECT_NE(message.find("FOCAL_WEB_DIR"), std::string::npos) << message;
  EXPECT_NE(message.find("npm run build"), std::string::npos) << message;
  fs::remove(root_ / "index.html");
  EXPECT_EQ(WebApp(root_).serve(request({"people", "1"})).status, 404);
}

// --- through HttpServer ---

// One raw request (HTTP/1.0-style: the server closes after answering) and the raw answer.
std::string raw_exchange(int port, const std::string& request_text) {
  test_support::Socket socket(port);
  if (!socket.connected() || !socket.send(request_text)) return {};
  return socket.read_to_close(std::chrono::seconds(10));
}

class WebAppServerTest : public WebAppTest {
 protected:
  void SetUp() override {
    WebAppTest::SetUp();
    api_.get("/api/server/ping", health_route(), [](const ApiRequest&) -> Expected<ApiResponse> {
      return ApiResponse::json({{"res", "pong"}});
    });
    api_.get("/api/private", user_route(Permission::kUserRead),
             [](const ApiRequest&) -> Expected<ApiResponse> { return ApiResponse::json({}); });
    HttpServerConfig cfg;
    cfg.port = 0;
    cfg.http_threads = 2;
    cfg.web_root = root_;
    server_ = std::make_unique<HttpServer>(cfg, api_, [](const ApiRequest&) -> Expected<Caller> {
      return Error{ErrorKind::kUnauthorized, "Authentication required"};
    });
    serving_ = std::make_unique<test_support::BackgroundServer>(server_->front());
    port_ = serving_->port();
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    serving_.reset();
    WebAppTest::TearDown();
  }
  std::string get(const std::string& target, const std::string& method = "GET",
                  const std::string& extra = "") {
    return raw_exchange(
        port_, method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra + "\r\n");
  }
  static int status_of(const std::string& answer) {
    return answer.size() > 12 ? std::stoi(answer.substr(9, 3)) : 0;
  }

  Api api_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<test_support::BackgroundServer> serving_;
  int port_ = 0;
};

TEST_F(WebAppServerTest, ServesTheUiOutsideApiAndKeepsApiErrors) {
  auto answer = get("/");
  EXPECT_EQ(status_of(answer), 200) << answer;
  EXPECT_NE(answer.find("<title>focal</title>"), std::string::npos);
  EXPECT_NE(answer.find("Content-Security-Policy: default-src 'self'"), std::string::npos);
  answer = get("/people/12");
  EXPECT_EQ(status_of(answer), 200);
  EXPECT_NE(answer.find("<title>focal</title>"), std::string::npos);
  answer = get("/assets/index-abc123.js", "GET", "Accept-Encoding: br\r\n");
  EXPECT_EQ(status_of(answer), 200);
  EXPECT_NE(answer.find("Content-Encoding: br"), std::string::npos);
  EXPECT_NE(answer.find("immutable"), std::string::npos);
  EXPECT_EQ(answer.substr(answer.size() - 2), "BR");

  // API paths never fall back to the UI; API answers are not sniffed either.
  answer = get("/api/nothing");
  EXPECT_EQ(status_of(answer), 404);
  EXPECT_NE(answer.find("\"statusCode\":404"), std::string::npos);
  EXPECT_NE(answer.find("X-Content-Type-Options: nosniff"), std::string::npos);
  EXPECT_EQ(answer.find("<title>"), std::string::npos);
  EXPECT_EQ(status_of(get("/api/private")), 401);
  EXPECT_EQ(status_of(get("/api/server/ping")), 200);
  // Other methods on UI paths are not the UI's.
  EXPECT_EQ(status_of(get("/people/12", "POST", "Content-Length: 0\r\n")), 404);
}

TEST_F(WebAppServerTest, RawTraversalIsRefused) {
  for (const char* target : {"/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt",
                             "/%2E%2E%2Fsecret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/leak.txt",
                             "/up/secret.txt", "/assets%5c..%5c..%5csecret.txt", "/index.html%00.js"}) {
    const auto answer = get(target);
    EXPECT_EQ(status_of(answer), 404) << target << "\n" << answer;
    EXPECT_EQ(answer.find("top secret"), std::string::npos) << target;
  }
}

TEST_F(WebAppServerTest, HeadAndConditionalRequests) {
  auto answer = get("/assets/index-def456.css", "HEAD");
  EXPECT_EQ(status_of(answer), 200) << answer;
  EXPECT_NE(answer.find("Content-Length: 6"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("body{}"), std::string::npos);
  const auto at = answer.find("ETag: ");
  ASSERT_NE(at, std::string::npos);
  const auto tag = answer.substr(at + 6, answer.find("\r\n", at) - at - 6);
  answer = get("/assets/index-def456.css", "GET", "If-None-Match: " + tag + "\r\n");
  EXPECT_EQ(status_of(answer), 304) << answer;
  EXPECT_EQ(answer.find("body{}"), std::string::npos);
}

}  // namespace
}  // namespace focal::server
