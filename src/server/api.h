// SPDX-License-Identifier: AGPL-3.0-or-later
// The REST API's route table, as seen by route files (src/server/*_routes.cpp).
//
// A route file registers handlers on an Api; handlers see a parsed ApiRequest (path parameters, query, JSON
// body, multipart parts, the authenticated caller) and return Expected<ApiResponse>. An Error becomes
// Immich's error body `{"message": ..., "statusCode": N, "error": "Bad Request"}` with the status of its
// ErrorKind (core/error.h), so handlers never format errors themselves. The HTTP library stays hidden behind
// this header.
//
//   void register_people_routes(server::Api& api, people::PeopleService& people) {
//     api.get("/api/people/:id", user_route(Permission::kPersonRead),
//             [&](const server::ApiRequest& req) -> Expected<server::ApiResponse> {
//       auto id = req.path_int("id");
//       if (!id) return id.error();
//       ...
//       return server::ApiResponse::json(person_json);
//     });
//   }
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/permissions.h"
#include "core/error.h"
#include "http/multipart.h"

namespace focal::server {

using auth::Permission;
using http::FormPart;

// Who may call a route.
enum class Access {
  kPublic,  // no credentials (ping, version, login, admin sign-up)
  kUser,    // any authenticated user (session token or API key)
  kAdmin,   // an authenticated admin
};

// A route's access rule: who may call it and, for API keys, which permission the key needs.
struct Guard {
  Access access = Access::kPublic;
  Permission permission = Permission::kNone;
  bool is_inline = false;  // cheap and non-blocking: answered on the HTTP I/O thread (health checks)
};
inline Guard public_route() { return {}; }
inline Guard health_route() { return {Access::kPublic, Permission::kNone, true}; }
inline Guard user_route(Permission permission) { return {Access::kUser, permission}; }
inline Guard admin_route(Permission permission) { return {Access::kAdmin, permission}; }

// The authenticated caller (empty for public routes called without credentials).
struct Caller {
  std::int64_t user_id = 0;
  bool is_admin = false;
  std::string email;
  std::string name;
  std::int64_t session_id = 0;                                   // the login session used, 0 for API keys
  std::int64_t api_key_id = 0;                                   // the API key used, 0 for sessions
  auth::PermissionSet permissions = auth::PermissionSet::all();  // an API key's; sessions have all

  bool may(Permission permission) const { return permissions.contains(permission); }
};

class ApiRequest {
 public:
  std::string method;
  std::string path;                   // decoded, for messages
  std::vector<std::string> segments;  // decoded path segments (routing)
  std::string client_address;  // the client's IP (X-Forwarded-For's first hop when the proxy is trusted)
  bool secure = false;         // reached over TLS (directly or, with a trusted proxy, X-Forwarded-Proto)
  std::map<std::string, std::string> path_params;  // ":id" segments of the route pattern
  std::multimap<std::string, std::string> query;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string_view body;
  std::vector<FormPart> parts;  // multipart/form-data bodies only
  Caller caller;

  // The body as a JSON object (400 naming the problem when it is not JSON or not an object; an empty body is
  // an empty object).
  Expected<nlohmann::json> json_body() const;
  // A path parameter as a positive integer id (400 "Invalid id" otherwise).
  Expected<std::int64_t> path_int(std::string_view name) const;
  std::optional<std::string> query_value(std::string_view name) const;
  // An optional integer query parameter in [min, max] (400 naming the parameter otherwise).
  Expected<std::optional<std::int64_t>> query_int(std::string_view name, std::int64_t min,
                                                  std::int64_t max) const;
  // An optional boolean query parameter ("true"/"false").
  Expected<std::optional<bool>> query_bool(std::string_view name) const;
  std::optional<std::string> header(std::string_view lower_case_name) const;
  // The first multipart part with this field name, if any.
  const FormPart* part(std::string_view name) const;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::filesystem::path file;  // when set, the file's bytes are streamed as the body (thumbnails, originals)
  std::vector<std::pair<std::string, std::string>> headers;

  static ApiResponse json(const nlohmann::json& value, int status = 200);
  static ApiResponse no_content();  // 204
  static ApiResponse bytes(std::string data, std::string content_type);
  static ApiResponse send_file(std::filesystem::path path, std::string content_type);
};

using Handler = std::function<Expected<ApiResponse>(const ApiRequest&)>;

// Validation helpers for JSON bodies: each names the key in its 400 message ("size must be an integer between
// 1 and 1000").
Expected<std::optional<std::string>> optional_string(const nlohmann::json& body, std::string_view key);
Expected<std::optional<bool>> optional_bool(const nlohmann::json& body, std::string_view key);
Expected<std::optional<std::int64_t>> optional_int(const nlohmann::json& body, std::string_view key,
                                                   std::int64_t min, std::int64_t max);
Expected<std::optional<double>> optional_number(const nlohmann::json& body, std::string_view key, double min,
                                                double max);
// Ids are JSON integers in responses (the SQLite row ids); requests may send them as integers or as decimal
// strings ("42"), which is what Immich clients send. An optional array of positive ids.
Expected<std::optional<std::vector<std::int64_t>>> optional_ids(const nlohmann::json& body,
                                                                std::string_view key);
// One optional positive id (integer or decimal string).
Expected<std::optional<std::int64_t>> optional_id(const nlohmann::json& body, std::string_view key);

// "2024-05-01T12:00:00.000Z" (UTC) for ms since the epoch (Immich's date-time format).
std::string iso_time(std::int64_t ms);
// Parses an ISO 8601 date or date-time ("2024-05-01", "2024-05-01T12:00:00[.sss][Z|+02:00]") to ms since the
// epoch (UTC when no offset); nullopt when unparsable.
std::optional<std::int64_t> parse_iso_time(std::string_view text);

// The route table. Patterns are literal paths with ":name" segments ("/api/assets/:id/thumbnail"). Every
// route states its guard; a non-public route without a permission is refused at registration (fail closed).
class Api {
 public:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Access access = Access::kUser;
    Permission permission = Permission::kNone;
    bool is_inline = false;
    Handler handler;
  };

  void get(std::string pattern, Guard guard, Handler handler);
  void post(std::string pattern, Guard guard, Handler handler);
  void put(std::string pattern, Guard guard, Handler handler);
  void patch(std::string pattern, Guard guard, Handler handler);
  void del(std::string pattern, Guard guard, Handler handler);
  void add(std::string method, std::string pattern, Guard guard, Handler handler);

  const std::vector<Route>& routes() const { return routes_; }

  // Finds the route for method + path and fills `params`. kNotFound when no pattern matches the path,
  // kMethodNotAllowed when one matches with another method.
  Expected<const Route*> match(std::string_view method, const std::vector<std::string>& segments,
                               std::map<std::string, std::string>& params) const;
  Expected<const Route*> match(std::string_view method, std::string_view path,
                               std::map<std::string, std::string>& params) const;

  // The table as JSON [{method, path, access, permission}] (`focal routes`, the authorization test).
  nlohmann::json describe() const;

 private:
  std::vector<Route> routes_;
};

}  // namespace focal::server
