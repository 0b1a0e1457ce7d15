// SPDX-License-Identifier: AGPL-3.0-or-later
// The REST framework: route matching, request helpers, error bodies, and the HTTP server with real auth on an
// in-memory database (credentials, body limits, error shapes).
#include "server/api.h"

#include <gtest/gtest.h>

#include "auth/auth.h"
#include "server/http_server.h"
#include "server/routes.h"
#include "store/database.h"
#include "support/background_server.h"
#include "support/http_test_server.h"
#include "support/test_database.h"

namespace focal::server {
namespace {

using nlohmann::json;

Handler reply_with(std::string text) {
  return [text](const ApiRequest& req) -> Expected<ApiResponse> {
    json out = {{"route", text}};
    for (const auto& [k, v] : req.path_params) out["params"][k] = v;
    return ApiResponse::json(out);
  };
}

TEST(ApiTest, MatchesLiteralsBeforeParameters) {
  Api api;
  api.get("/api/queues/:name", public_route(), reply_with("param"));
  api.get("/api/queues/stats", public_route(), reply_with("literal"));
  api.put("/api/queues/:name", public_route(), reply_with("put"));
  std::map<std::string, std::string> params;
  auto route = api.match("GET", "/api/queues/stats", params);
  ASSERT_TRUE(route.ok());
  EXPECT_EQ((*route)->pattern, "/api/queues/stats");
  route = api.match("GET", "/api/queues/smartSearch", params);
  ASSERT_TRUE(route.ok());
  EXPECT_EQ((*route)->pattern, "/api/queues/:name");
  EXPECT_EQ(params.at("name"), "smartSearch");
  route = api.match("PUT", "/api/queues/x", params);
  ASSERT_TRUE(route.ok());
  EXPECT_EQ((*route)->method, "PUT");
}

TEST(ApiTest, UnknownPathIs404AndWrongMethodIs405) {
  Api api;
  api.get("/api/assets/:id", public_route(), reply_with("asset"));
  std::map<std::string, std::string> params;
  auto route = api.match("GET", "/api/assets", params);
  ASSERT_FALSE(route.ok());
  EXPECT_EQ(route.error().kind, ErrorKind::kNotFound);
  route = api.match("GET", "/api/assets/", params);  // empty parameter
  ASSERT_FALSE(route.ok());
  EXPECT_EQ(route.error().kind, ErrorKind::kNotFound);
  route = api.match("POST", "/api/assets/7", params);
  ASSERT_FALSE(route.ok());
  EXPECT_EQ(route.error().kind, ErrorKind::kMethodNotAllowed);
}

TEST(ApiTest, RequestHelpersValidateAndNameTheField) {
  ApiRequest req;
  req.body = "[1,2]";
  EXPECT_EQ(req.json_body().error().kind, ErrorKind::kBadRequest);
  req.body = "{nope";
  EXPECT_EQ(req.json_body().error().message, "Request body is not valid JSON");
  req.body = "";
  EXPECT_TRUE(req.json_body()->is_object());

  req.path_params["id"] = "12";
  EXPECT_EQ(*req.path_int("id"), 12);
  for (const char* bad : {"0", "-3", "1e3", "abc", "99999999999999999999"}) {
    req.path_params["id"] = bad;
    EXPECT_EQ(req.path_int("id").error().kind, ErrorKind::kBadRequest) << bad;
  }
  req.query.emplace("size", "5000");
  auto size = req.query_int("size", 1, 1000);
  ASSERT_FALSE(size.ok());
  EXPECT_EQ(size.error().message, "size must be an integer between 1 and 1000");

  const json body = {{"page", 2}, {"size", "10"}, {"isFavorite", 1}, {"ids", {1, -2}}, {"name", nullptr}};
  EXPECT_EQ(**optional_int(body, "page", 1, 100), 2);
  EXPECT_FALSE(optional_int(body, "size", 1, 100).ok());
  EXPECT_FALSE(optional_bool(body, "isFavorite").ok());
  EXPECT_FALSE(optional_ids(body, "ids").ok());
  EXPECT_FALSE(optional_string(body, "name")->has_value());
  EXPECT_FALSE(optional_string(body, "missing")->has_value());
  EXPECT_FALSE(optional_number(json{{"x", 3.0}}, "x", 0.0, 1.0).ok());
}

TEST(ApiTest, ErrorBodyHasImmichShape) {
  const auto body = error_body(bad_request("Job is already running"));
  EXPECT_EQ(body,
            (json{{"message", "Job is already running"}, {"statusCode", 400}, {"error", "Bad Request"}}));
  EXPECT_EQ(error_body({ErrorKind::kUnauthorized, "x"})["statusCode"], 401);
  EXPECT_EQ(error_body({ErrorKind::kConflict, "x"})["error"], "Conflict");
}

// A server on a free port with the auth routes and a few probes, on both engines.
class ServerTest : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override {
    FOCAL_REQUIRE_DATABASE(database_);
    ASSERT_TRUE(auth::init_crypto().ok());
    db_ = database_.open(1);
    ASSERT_NE(db_, nullptr);
    ASSERT_TRUE(db_->migrate(auth::kComponent, auth::migrations()).ok());
    auth_ = std::make_unique<auth::AuthService>(*db_);
    register_auth_routes(api_, *auth_);
    api_.get(
        "/api/whoami", user_route(Permission::kUserRead), [](const ApiRequest& req) -> Expected<ApiResponse> {
          return ApiResponse::json({{"userId", req.caller.user_id}, {"apiKey", req.caller.api_key_id != 0}});
        });
    api_.post("/api/echo", user_route(Permission::kUserRead),
              [](const ApiRequest& req) -> Expected<ApiResponse> {
                auto body = req.json_body();
                if (!body) return body.error();
                return ApiResponse::json(*body);
              });
    api_.post("/api/upload", user_route(Permission::kAssetUpload),
              [](const ApiRequest& req) -> Expected<ApiResponse> {
                const auto* part = req.part("assetData");
                if (part == nullptr) return bad_request("assetData is required");
                return ApiResponse::json({{"bytes", part->content.size()}, {"filename", part->filename}});
              });
    api_.get("/api/boom", user_route(Permission::kUserRead),
             [](const ApiRequest&) -> Expected<ApiResponse> { throw std::runtime_error("boom"); });
    HttpServerConfig cfg;
    cfg.port = 0;
    cfg.http_threads = 4;
    cfg.max_upload_bytes = 64 * 1024;
    cfg.max_json_bytes = 4 * 1024;
    server_ = std::make_unique<HttpServer>(cfg, api_, make_authenticator(*auth_));
    serving_ = std::make_unique<test_support::BackgroundServer>(server_->front());
    port_ = serving_->port();
    ASSERT_GT(port_, 0);
  }
  void TearDown() override { serving_.reset(); }

  using Headers = std::vector<std::pair<std::string, std::string>>;
  using Reply = test_support::TestReply;

  Reply call(const std::string& method, const std::string& path, const Headers& headers = {},
             std::string body = "", const std::string& content_type = "application/json") {
    http::ClientRequest request;
    request.method = method;
    request.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    request.headers = headers;
    if (!body.empty()) request.headers.emplace_back("Content-Type", content_type);
    request.body = std::move(body);
    request.timeout = std::chrono::seconds(10);
    return test_support::send(request);
  }
  Reply post(const std::string& path, std::string body, const Headers& headers = {}) {
    return call("POST", path, headers, std::move(body));
  }
  Reply upload(const std::string& path, const Headers& headers, const std::string& data) {
    http::ClientRequest request;
    request.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    request.headers = headers;
    request.form.push_back({"assetData", data, "a.jpg", "image/jpeg"});
    request.timeout = std::chrono::seconds(10);
    return test_support::send(request);
  }

  static json body_of(const Reply& res) { return json::parse(res.body); }

  // Signs up the admin and logs in; returns the access token.
  std::string admin_token() {
    auto res = post("/api/auth/admin-sign-up",
                    R"({"email":"admin@example.com","password":"correct horse","name":"Admin"})");
    EXPECT_EQ(res.status, 201) << res.body;
    res = post("/api/auth/login", R"({"email":"admin@example.com","password":"correct horse"})");
    EXPECT_EQ(res.status, 201) << res.body;
    return body_of(res)["accessToken"].get<std::string>();
  }

  Api api_;
  test_support::TestDatabase database_{GetParam()};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<auth::AuthService> auth_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<test_support::BackgroundServer> serving_;
  int port_ = 0;
};

void expect_error(const test_support::TestReply& res, int status) {
  ASSERT_NE(res.status, 0) << "no response: " << res.error;
  EXPECT_EQ(res.status, status) << res.body;
  const auto type = res.headers.find("content-type");
  ASSERT_NE(type, res.headers.end());
  EXPECT_EQ(type->second, "application/json");
  const auto body = json::parse(res.body);
  EXPECT_TRUE(body["message"].is_string());
  EXPECT_EQ(body["statusCode"], status);
  EXPECT_TRUE(body["error"].is_string());
}

TEST_P(ServerTest, RoutesNeedCredentials) {
  expect_error(call("GET", "/api/whoami"), 401);
  expect_error(call("GET", "/api/whoami", {{"Authorization", "Bearer nope"}}), 401);
  expect_error(call("GET", "/api/whoami", {{"x-api-key", "nope"}}), 401);
  expect_error(call("GET", "/api/nothing-here"), 404);
  expect_error(call("DELETE", "/api/auth/login"), 405);
  // An anonymous upload is refused from its head, before the body is read.
  expect_error(call("POST", "/api/upload", {}, std::string(1000, 'x'), "application/octet-stream"), 401);
}

TEST_P(ServerTest, AdminSignUpLoginAndSessions) {
  const auto token = admin_token();
  auto res = call("GET", "/api/whoami", {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(body_of(res)["userId"], 1);
  res = call("GET", "/api/whoami", {{"Cookie", "theme=dark; immich_access_token=" + token}});
  EXPECT_EQ(res.status, 200);

  // A second admin sign-up is refused; wrong passwords and unknown users look the same.
  expect_error(
      post("/api/auth/admin-sign-up", R"({"email":"b@example.com","password":"12345678","name":"B"})"), 400);
  res = post("/api/auth/login", R"({"email":"admin@example.com","password":"wrong password"})");
  expect_error(res, 401);
  EXPECT_EQ(body_of(res)["message"], "Incorrect email or password");
  res = post("/api/auth/login", R"({"email":"who@example.com","password":"wrong password"})");
  EXPECT_EQ(body_of(res)["message"], "Incorrect email or password");
  expect_error(post("/api/auth/login", R"({"email":5})"), 400);

  // The database keeps only hashes of tokens.
  auto stored = db_->read([&](store::Connection& conn) -> Expected<std::vector<std::byte>> {
    auto stmt = conn.prepare("SELECT token_hash FROM auth_session");
    if (!stmt) return stmt.error();
    auto row = stmt->step();
    if (!row) return row.error();
    return stmt->blob(0);
  });
  ASSERT_TRUE(stored.ok());
  const std::string stored_text(reinterpret_cast<const char*>(stored->data()), stored->size());
  EXPECT_EQ(stored_text.find(token), std::string::npos);

  // Logout ends the session.
  res = call("POST", "/api/auth/logout", {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(res.status, 200);
  expect_error(call("GET", "/api/whoami", {{"Authorization", "Bearer " + token}}), 401);
}

TEST_P(ServerTest, LoginCookieIsHttpOnlyAndSameSite) {
  admin_token();
  auto res = post("/api/auth/login", R"({"email":"admin@example.com","password":"correct horse"})");
  const auto cookie = res.headers.find("set-cookie");
  ASSERT_NE(cookie, res.headers.end());
  EXPECT_NE(cookie->second.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie->second.find("SameSite=Lax"), std::string::npos);
  EXPECT_EQ(cookie->second.find("Secure"), std::string::npos) << "plain HTTP: no Secure flag";
}

TEST_P(ServerTest, FailedLoginsAreThrottledPerAccount) {
  admin_token();
  const auto wrong = R"({"email":"admin@example.com","password":"wrong password"})";
  for (int i = 0; i < 5; ++i) expect_error(post("/api/auth/login", wrong), 401);
  // The sixth failure makes the next attempt wait, even with the right password.
  expect_error(post("/api/auth/login", wrong), 401);
  auto res = post("/api/auth/login", R"({"email":"admin@example.com","password":"correct horse"})");
  expect_error(res, 429);
  EXPECT_NE(res.headers.find("retry-after"), res.headers.end());
  // Another account from the same address is not locked.
  expect_error(post("/api/auth/login", R"({"email":"other@example.com","password":"wrong password"})"), 401);
}

TEST_P(ServerTest, ApiKeysAndAdminRoutes) {
  const Headers admin = {{"Authorization", "Bearer " + admin_token()}};
  auto res = post("/api/api-keys", R"({"name":"cli"})", admin);
  ASSERT_EQ(res.status, 201) << res.body;
  const auto secret = body_of(res)["secret"].get<std::string>();
  const auto key_id = std::to_string(body_of(res)["apiKey"]["id"].get<std::int64_t>());
  res = call("GET", "/api/whoami", {{"x-api-key", secret}});
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(body_of(res)["apiKey"], true);
  res = call("GET", "/api/api-keys", admin);
  ASSERT_EQ(res.status, 200);
  ASSERT_EQ(body_of(res).size(), 1U);
  EXPECT_EQ(body_of(res)[0]["name"], "cli");
  EXPECT_EQ(body_of(res)[0]["permissions"], json::array({"all"}));
  EXPECT_FALSE(body_of(res)[0].contains("secret"));

  // A non-admin user cannot use admin routes; nor delete another user's key.
  res = post("/api/admin/users", R"({"email":"u@example.com","password":"user password","name":"U"})", admin);
  ASSERT_EQ(res.status, 201) << res.body;
  expect_error(
      post("/api/admin/users", R"({"email":"U@example.com","password":"user password","name":"U"})", admin),
      409);
  res = post("/api/auth/login", R"({"email":"u@example.com","password":"user password"})");
  const Headers user = {{"Authorization", "Bearer " + body_of(res)["accessToken"].get<std::string>()}};
  expect_error(call("GET", "/api/admin/users", user), 403);
  expect_error(call("DELETE", "/api/api-keys/" + key_id, user), 404);
  expect_error(call("DELETE", "/api/api-keys/abc", admin), 400);

  res = call("DELETE", "/api/api-keys/" + key_id, admin);
  EXPECT_EQ(res.status, 204);
  expect_error(call("GET", "/api/whoami", {{"x-api-key", secret}}), 401);
}

TEST_P(ServerTest, ApiKeyPermissionsLimitRoutes) {
  const Headers admin = {{"Authorization", "Bearer " + admin_token()}};
  auto res = post("/api/api-keys", R"({"name":"read","permissions":["user.read"]})", admin);
  ASSERT_EQ(res.status, 201) << res.body;
  const Headers key = {{"x-api-key", body_of(res)["secret"].get<std::string>()}};
  EXPECT_EQ(call("GET", "/api/whoami", key).status, 200);
  res = upload("/api/upload", key, "x");
  expect_error(res, 403);
  EXPECT_EQ(body_of(res)["message"], "Missing required permission: asset.upload");
  // A key cannot mint a key with more rights than it has, and unknown names are refused.
  expect_error(post("/api/api-keys", R"({"permissions":["all"]})", key), 403);
  expect_error(post("/api/api-keys", R"({"permissions":["asset.fly"]})", admin), 400);
  expect_error(post("/api/api-keys", R"({"permissions":[]})", admin), 400);
}

TEST_P(ServerTest, BodiesAreValidatedAndBounded) {
  const Headers admin = {{"Authorization", "Bearer " + admin_token()}};
  auto res = post("/api/echo", R"({"a":1})", admin);
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(body_of(res), (json{{"a", 1}}));
  expect_error(post("/api/echo", "{broken", admin), 400);
  expect_error(post("/api/echo", std::string(8 * 1024, ' '), admin), 413);

  res = upload("/api/upload", admin, std::string(1000, 'x'));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(body_of(res)["bytes"], 1000);
  EXPECT_EQ(body_of(res)["filename"], "a.jpg");
  expect_error(upload("/api/upload", admin, std::string(100 * 1024, 'x')), 413);

  // Handlers that throw answer a JSON 500 without taking the server down.
  expect_error(call("GET", "/api/boom", admin), 500);
  EXPECT_EQ(call("GET", "/api/whoami", admin).status, 200);
}

TEST(ApiTest, RoutesWithoutAPermissionAreRefused) {
  Api api;
  EXPECT_THROW(api.get("/api/x", Guard{Access::kUser, Permission::kNone},
                       [](const ApiRequest&) -> Expected<ApiResponse> { return ApiResponse::no_content(); }),
               std::logic_error);
}

INSTANTIATE_TEST_SUITE_P(Engines, ServerTest, test_support::engines(), test_support::engine_name);

}  // namespace
}  // namespace focal::server
