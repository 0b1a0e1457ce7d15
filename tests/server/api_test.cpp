// The REST framework: route matching, request helpers, error bodies, and the HTTP server with real auth on an
// in-memory database (credentials, body limits, error shapes).
#include "server/api.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "auth/auth.h"
#include "server/http_server.h"
#include "server/routes.h"
#include "store/database.h"

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
  api.get("/api/queues/:name", reply_with("param"));
  api.get("/api/queues/stats", reply_with("literal"));
  api.put("/api/queues/:name", reply_with("put"));
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
  api.get("/api/assets/:id", reply_with("asset"));
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

// A server on a free port with the auth routes and a few probes.
class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(auth::init_crypto().ok());
    auto db = store::Database::open({":memory:", 1});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
    ASSERT_TRUE(db_->migrate(auth::kComponent, auth::migrations()).ok());
    auth_ = std::make_unique<auth::AuthService>(*db_);
    register_auth_routes(api_, *auth_);
    api_.get("/api/whoami", [](const ApiRequest& req) -> Expected<ApiResponse> {
      return ApiResponse::json({{"userId", req.caller.user_id}, {"apiKey", req.caller.api_key_id != 0}});
    });
    api_.post("/api/echo", [](const ApiRequest& req) -> Expected<ApiResponse> {
      auto body = req.json_body();
      if (!body) return body.error();
      return ApiResponse::json(*body);
    });
    api_.post("/api/upload", [](const ApiRequest& req) -> Expected<ApiResponse> {
      const auto* part = req.part("assetData");
      if (part == nullptr) return bad_request("assetData is required");
      return ApiResponse::json({{"bytes", part->content.size()}, {"filename", part->filename}});
    });
    api_.get("/api/boom",
             [](const ApiRequest&) -> Expected<ApiResponse> { throw std::runtime_error("boom"); });
    HttpServerConfig cfg;
    cfg.port = 0;
    cfg.http_threads = 4;
    cfg.max_upload_bytes = 64 * 1024;
    cfg.max_json_bytes = 4 * 1024;
    server_ = std::make_unique<HttpServer>(cfg, api_, make_authenticator(*auth_));
    auto port = server_->bind();
    ASSERT_TRUE(port.ok());
    port_ = *port;
    thread_ = std::thread([this] { server_->serve(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }

  httplib::Client client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(10, 0);
    return c;
  }

  static json body_of(const httplib::Result& res) { return json::parse(res->body); }

  // Signs up the admin and logs in; returns the access token.
  std::string admin_token() {
    auto c = client();
    auto res = c.Post("/api/auth/admin-sign-up",
                      R"({"email":"admin@example.com","password":"correct horse","name":"Admin"})",
                      "application/json");
    EXPECT_EQ(res->status, 201) << res->body;
    res = c.Post("/api/auth/login", R"({"email":"admin@example.com","password":"correct horse"})",
                 "application/json");
    EXPECT_EQ(res->status, 201) << res->body;
    return body_of(res)["accessToken"].get<std::string>();
  }

  Api api_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<auth::AuthService> auth_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
};

void expect_error(const httplib::Result& res, int status) {
  ASSERT_TRUE(res) << "no response";
  EXPECT_EQ(res->status, status) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  const auto body = json::parse(res->body);
  EXPECT_TRUE(body["message"].is_string());
  EXPECT_EQ(body["statusCode"], status);
  EXPECT_TRUE(body["error"].is_string());
}

TEST_F(ServerTest, RoutesNeedCredentials) {
  auto c = client();
  expect_error(c.Get("/api/whoami"), 401);
  expect_error(c.Get("/api/whoami", {{"Authorization", "Bearer nope"}}), 401);
  expect_error(c.Get("/api/whoami", {{"x-api-key", "nope"}}), 401);
  expect_error(c.Get("/api/nothing-here"), 404);
  expect_error(c.Delete("/api/auth/login"), 405);
  // An anonymous upload is refused from its head, before the body is read.
  expect_error(c.Post("/api/upload", std::string(1000, 'x'), "application/octet-stream"), 401);
}

TEST_F(ServerTest, AdminSignUpLoginAndSessions) {
  const auto token = admin_token();
  auto c = client();
  auto res = c.Get("/api/whoami", {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(body_of(res)["userId"], 1);
  res = c.Get("/api/whoami", {{"Cookie", "theme=dark; immich_access_token=" + token}});
  EXPECT_EQ(res->status, 200);

  // A second admin sign-up is refused; wrong passwords and unknown users look the same.
  expect_error(c.Post("/api/auth/admin-sign-up",
                      R"({"email":"b@example.com","password":"12345678","name":"B"})", "application/json"),
               400);
  res = c.Post("/api/auth/login", R"({"email":"admin@example.com","password":"wrong password"})",
               "application/json");
  expect_error(res, 401);
  EXPECT_EQ(body_of(res)["message"], "Incorrect email or password");
  res = c.Post("/api/auth/login", R"({"email":"who@example.com","password":"wrong password"})",
               "application/json");
  EXPECT_EQ(body_of(res)["message"], "Incorrect email or password");
  expect_error(c.Post("/api/auth/login", R"({"email":5})", "application/json"), 400);

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
  res = c.Post("/api/auth/logout", {{"Authorization", "Bearer " + token}}, "", "application/json");
  EXPECT_EQ(res->status, 200);
  expect_error(c.Get("/api/whoami", {{"Authorization", "Bearer " + token}}), 401);
}

TEST_F(ServerTest, ApiKeysAndAdminRoutes) {
  const httplib::Headers admin = {{"Authorization", "Bearer " + admin_token()}};
  auto c = client();
  auto res = c.Post("/api/api-keys", admin, R"({"name":"cli"})", "application/json");
  ASSERT_EQ(res->status, 201) << res->body;
  const auto secret = body_of(res)["secret"].get<std::string>();
  const auto key_id = std::to_string(body_of(res)["apiKey"]["id"].get<std::int64_t>());
  res = c.Get("/api/whoami", {{"x-api-key", secret}});
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(body_of(res)["apiKey"], true);
  res = c.Get("/api/api-keys", admin);
  ASSERT_EQ(res->status, 200);
  ASSERT_EQ(body_of(res).size(), 1U);
  EXPECT_EQ(body_of(res)[0]["name"], "cli");
  EXPECT_FALSE(body_of(res)[0].contains("secret"));

  // A non-admin user cannot use admin routes; nor delete another user's key.
  res = c.Post("/api/admin/users", admin,
               R"({"email":"u@example.com","password":"user password","name":"U"})", "application/json");
  ASSERT_EQ(res->status, 201) << res->body;
  expect_error(
      c.Post("/api/admin/users", admin, R"({"email":"U@example.com","password":"user password","name":"U"})",
             "application/json"),
      409);
  res = c.Post("/api/auth/login", R"({"email":"u@example.com","password":"user password"})",
               "application/json");
  const httplib::Headers user = {
      {"Authorization", "Bearer " + body_of(res)["accessToken"].get<std::string>()}};
  expect_error(c.Get("/api/admin/users", user), 403);
  expect_error(c.Delete("/api/api-keys/" + key_id, user), 404);
  expect_error(c.Delete("/api/api-keys/abc", admin), 400);

  res = c.Delete("/api/api-keys/" + key_id, admin);
  EXPECT_EQ(res->status, 204);
  expect_error(c.Get("/api/whoami", {{"x-api-key", secret}}), 401);
}

TEST_F(ServerTest, BodiesAreValidatedAndBounded) {
  const httplib::Headers admin = {{"Authorization", "Bearer " + admin_token()}};
  auto c = client();
  auto res = c.Post("/api/echo", admin, R"({"a":1})", "application/json");
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(body_of(res), (json{{"a", 1}}));
  expect_error(c.Post("/api/echo", admin, "{broken", "application/json"), 400);
  expect_error(c.Post("/api/echo", admin, std::string(8 * 1024, ' '), "application/json"), 413);

  httplib::MultipartFormDataItems small = {{"assetData", std::string(1000, 'x'), "a.jpg", "image/jpeg"}};
  res = c.Post("/api/upload", admin, small);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(body_of(res)["bytes"], 1000);
  EXPECT_EQ(body_of(res)["filename"], "a.jpg");
  httplib::MultipartFormDataItems large = {
      {"assetData", std::string(100 * 1024, 'x'), "a.jpg", "image/jpeg"}};
  expect_error(c.Post("/api/upload", admin, large), 413);

  // Handlers that throw answer a JSON 500 without taking the server down.
  expect_error(c.Get("/api/boom", admin), 500);
  EXPECT_EQ(c.Get("/api/whoami", admin)->status, 200);
}

}  // namespace
}  // namespace focal::server
