// SPDX-License-Identifier: AGPL-3.0-or-later
// Users, login sessions and API keys over HTTP (Immich's /auth, /users/me, /api-keys, /admin/users shapes).
#include <algorithm>
#include <string>

#include "auth/auth.h"
#include "http/form.h"
#include "server/routes.h"

namespace focal::server {
namespace {

using nlohmann::json;

constexpr const char* kCookie = "immich_access_token";

json user_json(const auth::User& user) {
  return {{"id", user.id},
          {"email", user.email},
          {"name", user.name},
          {"isAdmin", user.is_admin},
          {"createdAt", iso_time(user.created_at)}};
}

json api_key_json(const auth::ApiKey& key) {
  return {{"id", key.id},
          {"name", key.name},
          {"createdAt", iso_time(key.created_at)},
          {"permissions", key.permissions.names()}};
}

// The session cookie: never readable by scripts (HttpOnly), not sent on cross-site subrequests (SameSite=Lax,
// as Immich), and only over HTTPS when the request came over HTTPS (Secure).
std::string session_cookie(const ApiRequest& req, std::string_view value, std::string_view max_age) {
  return std::string(kCookie) + "=" + std::string(value) + "; Path=/; HttpOnly; SameSite=Lax" +
         (req.secure ? "; Secure" : "") + "; Max-Age=" + std::string(max_age);
}

Expected<std::string> required_string(const json& body, std::string_view key) {
  auto value = optional_string(body, key);
  if (!value) return value.error();
  if (!*value || (*value)->empty()) return bad_request(std::string(key) + " should not be empty");
  return **value;
}

struct NewUser {
  std::string email, password, name;
};

Expected<NewUser> new_user(const ApiRequest& req) {
  auto body = req.json_body();
  if (!body) return body.error();
  auto email = required_string(*body, "email");
  if (!email) return email.error();
  auto password = required_string(*body, "password");
  if (!password) return password.error();
  auto name = required_string(*body, "name");
  if (!name) return name.error();
  return NewUser{*email, *password, *name};
}

Caller caller_of(const auth::Identity& identity) {
  return Caller{identity.user.id,    identity.user.is_admin, identity.user.email, identity.user.name,
                identity.session_id, identity.api_key_id,    identity.permissions};
}

}  // namespace

Authenticator make_authenticator(auth::AuthService& auth) {
  return [&auth](const ApiRequest& req) -> Expected<Caller> {
    if (auto key = req.header("x-api-key")) {
      auto identity = auth.authenticate_api_key(*key);
      if (!identity) return identity.error();
      return caller_of(*identity);
    }
    std::optional<std::string> token;
    if (auto header = req.header("authorization")) {
      constexpr std::string_view kBearer = "Bearer ";
      if (header->size() > kBearer.size() && header->compare(0, kBearer.size(), kBearer) == 0) {
        token = header->substr(kBearer.size());
      }
    }
    if (!token) {
      if (auto cookies = req.header("cookie")) token = http::cookie_value(*cookies, kCookie);
    }
    if (!token) return Error{ErrorKind::kUnauthorized, "Authentication required"};
    auto identity = auth.authenticate_session(*token);
    if (!identity) return identity.error();
    return caller_of(*identity);
  };
}

void register_auth_routes(Api& api, auth::AuthService& auth) {
  api.post("/api/auth/admin-sign-up", public_route(),
           [&auth](const ApiRequest& req) -> Expected<ApiResponse> {
             auto user = new_user(req);
             if (!user) return user.error();
             auto created = auth.admin_sign_up(user->email, user->password, user->name);
             if (!created) return created.error();
             return ApiResponse::json(user_json(*created), 201);
           });

  api.post("/api/auth/login", public_route(), [&auth](const ApiRequest& req) -> Expected<ApiResponse> {
    auto body = req.json_body();
    if (!body) return body.error();
    auto email = required_string(*body, "email");
    if (!email) return email.error();
    auto password = required_string(*body, "password");
    if (!password) return password.error();
    auto session = auth.login(*email, *password, req.client_address);
    if (!session) {
      if (session.error().kind != ErrorKind::kTooManyRequests) return session.error();
      // Throttled: say when to come back.
      auto reply = ApiResponse::json(error_body(session.error()), 429);
      const auto wait = std::max<std::int64_t>(auth.login_retry_after_s(*email, req.client_address), 1);
      reply.headers.emplace_back("Retry-After", std::to_string(wait));
      return reply;
    }
    auto reply = ApiResponse::json({{"accessToken", session->access_token},
                                    {"userId", session->user.id},
                                    {"userEmail", session->user.email},
                                    {"name", session->user.name},
                                    {"isAdmin", session->user.is_admin},
                                    {"shouldChangePassword", false},
                                    {"isOnboarded", true}},
                                   201);
    reply.headers.emplace_back("Set-Cookie", session_cookie(req, session->access_token, "34560000"));
    return reply;
  });

  api.post("/api/auth/logout", public_route(), [&auth](const ApiRequest& req) -> Expected<ApiResponse> {
    if (req.caller.session_id != 0) {
      if (auto st = auth.logout(req.caller.session_id); !st) return st.error();
    }
    auto reply = ApiResponse::json({{"successful", true}, {"redirectUri", "/auth/login?autoLaunch=0"}});
    reply.headers.emplace_back("Set-Cookie", session_cookie(req, "", "0"));
    return reply;
  });

  api.post("/api/auth/validateToken", user_route(Permission::kUserRead),
           [](const ApiRequest&) -> Expected<ApiResponse> {
             return ApiResponse::json({{"authStatus", true}});
           });

  api.get("/api/users/me", user_route(Permission::kUserRead),
          [](const ApiRequest& req) -> Expected<ApiResponse> {
            return ApiResponse::json({{"id", req.caller.user_id},
                                      {"email", req.caller.email},
                                      {"name", req.caller.name},
                                      {"isAdmin", req.caller.is_admin}});
          });

  api.get("/api/admin/users", admin_route(Permission::kAdminUserRead),
          [&auth](const ApiRequest&) -> Expected<ApiResponse> {
            auto users = auth.list_users();
            if (!users) return users.error();
            json out = json::array();
            for (const auto& user : *users) out.push_back(user_json(user));
            return ApiResponse::json(out);
          });

  api.post("/api/admin/users", admin_route(Permission::kAdminUserCreate),
           [&auth](const ApiRequest& req) -> Expected<ApiResponse> {
             auto user = new_user(req);
             if (!user) return user.error();
             auto body = req.json_body();
             auto is_admin = optional_bool(*body, "isAdmin");
             if (!is_admin) return is_admin.error();
             auto created =
                 auth.create_user(user->email, user->password, user->name, is_admin->value_or(false));
             if (!created) return created.error();
             return ApiResponse::json(user_json(*created), 201);
           });

  api.post(
      "/api/api-keys", user_route(Permission::kApiKeyCreate),
      [&auth](const ApiRequest& req) -> Expected<ApiResponse> {
        auto body = req.json_body();
        if (!body) return body.error();
        auto name = optional_string(*body, "name");
        if (!name) return name.error();
        auto permissions = req.caller.permissions;  // a key made by a key inherits its rights by default
        if (auto listed = body->find("permissions"); listed != body->end()) {
          const auto message = "permissions must be a non-empty array of: " + [] {
            std::string names;
            for (const auto& n : auth::permission_names()) names += (names.empty() ? "" : ", ") + n;
            return names;
          }();
          if (!listed->is_array() || listed->empty()) return bad_request(message);
          std::vector<std::string> names;
          for (const auto& item : *listed) {
            if (!item.is_string()) return bad_request(message);
            names.push_back(item.get<std::string>());
          }
          std::string unknown;
          auto parsed = auth::PermissionSet::parse(names, &unknown);
          if (!parsed) return bad_request("Unknown permission '" + unknown.substr(0, 64) + "'; " + message);
          // A key can never hold more than the credential that creates it.
          for (const auto& n : names) {
            if (!req.caller.may(*auth::parse_permission(n)))
              return Error{ErrorKind::kForbidden, "Cannot grant permission " + n + " that the caller lacks"};
          }
          permissions = *parsed;
        }
        auto created = auth.create_api_key(req.caller.user_id, name->value_or(""), permissions);
        if (!created) return created.error();
        return ApiResponse::json({{"secret", created->secret}, {"apiKey", api_key_json(created->key)}}, 201);
      });

  api.get("/api/api-keys", user_route(Permission::kApiKeyRead),
          [&auth](const ApiRequest& req) -> Expected<ApiResponse> {
            auto keys = auth.list_api_keys(req.caller.user_id);
            if (!keys) return keys.error();
            json out = json::array();
            for (const auto& key : *keys) out.push_back(api_key_json(key));
            return ApiResponse::json(out);
          });

  api.del("/api/api-keys/:id", user_route(Permission::kApiKeyDelete),
          [&auth](const ApiRequest& req) -> Expected<ApiResponse> {
            auto id = req.path_int("id");
            if (!id) return id.error();
            if (auto st = auth.delete_api_key(req.caller.user_id, *id); !st) return st.error();
            return ApiResponse::no_content();
          });
}

}  // namespace focal::server
