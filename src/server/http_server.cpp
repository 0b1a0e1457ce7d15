// SPDX-License-Identifier: AGPL-3.0-or-later
#include "server/http_server.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "http/form.h"
#include "http/multipart.h"
#include "server/web_app.h"

namespace focal::server {
namespace {

constexpr const char* kJson = "application/json";

std::string dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Browsers must never sniff a JSON error (or a thumbnail) into something executable.
void add_nosniff(http::Response& response) {
  for (const auto& [name, value] : response.headers) {
    if (name == "X-Content-Type-Options") return;
  }
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
}

http::Response error_response(const Error& error) {
  auto response = http::Response::text(http_status(error.kind), dump(error_body(error)), kJson);
  add_nosniff(response);
  return response;
}

bool is_multipart(const http::RequestHead& head) {
  const auto media = http::parse_media_type(head.header("content-type").value_or(""));
  return media && media->type == "multipart/form-data";
}

// What admit() found out, handed to handle().
struct Admitted {
  const Api::Route* route = nullptr;  // nullptr: a web UI file
  ApiRequest request;
};

http::Response to_response(ApiResponse reply) {
  http::Response out;
  out.status = reply.status;
  out.headers = std::move(reply.headers);
  out.content_type = std::move(reply.content_type);
  out.file = std::move(reply.file);
  if (reply.status != 204) out.body = std::move(reply.body);
  add_nosniff(out);
  return out;
}

}  // namespace

nlohmann::json error_body(int status, std::string_view message) {
  return {{"message", message}, {"statusCode", status}, {"error", http::reason_phrase(status)}};
}

nlohmann::json error_body(const Error& error) { return error_body(http_status(error.kind), error.message); }

struct HttpServer::Impl final : http::Service {
  HttpServerConfig config;
  const Api& api;
  Authenticator authenticate;
  std::optional<WebApp> web;
  http::Server server;

  Impl(HttpServerConfig c, const Api& a, Authenticator auth)
      : config(std::move(c)), api(a), authenticate(std::move(auth)), server(http_config(config), *this) {
    if (!config.web_root.empty()) web.emplace(config.web_root);
  }

  // A GET/HEAD outside /api/ that no route matches is the web UI's (public: the UI's files are no secret).
  bool is_web_request(const ApiRequest& request, const Error& refusal) const {
    return web && refusal.kind == ErrorKind::kNotFound &&
           (request.method == "GET" || request.method == "HEAD") &&
           (request.segments.empty() || request.segments.front() != "api");
  }

  static http::ServerConfig http_config(const HttpServerConfig& c) {
    http::ServerConfig out;
    out.name = "focal";
    out.host = c.host;
    out.port = c.port;
    out.worker_threads = std::max(c.http_threads, 1);
    out.access_log = c.access_log;
    out.limits = c.limits;
    out.tls = c.tls;
    return out;
  }

  bool is_inline(const http::RequestHead& head) const override {
    std::map<std::string, std::string> params;
    auto route = api.match(head.method, head.segments, params);
    return route && (*route)->is_inline;
  }

  // Route lookup, authentication and permissions, from the request head only.
  Expected<const Api::Route*> admit_request(ApiRequest& request) const {
    auto route = api.match(request.method, request.segments, request.path_params);
    if (!route) return route.error();
    const auto& r = **route;
    if (r.access == Access::kPublic) {
      // Public routes still see the caller when credentials are given (e.g. logout).
      if (auto caller = authenticate(request)) request.caller = *caller;
      return route;
    }
    auto caller = authenticate(request);
    if (!caller) return caller.error();
    if (r.access == Access::kAdmin && !caller->is_admin) {
      return Error{ErrorKind::kForbidden, "Forbidden: admin access required"};
    }
    if (!caller->may(r.permission)) {
      return Error{ErrorKind::kForbidden,
                   "Missing required permission: " + std::string(to_string(r.permission))};
    }
    request.caller = *caller;
    return route;
  }

  http::Admission admit(http::RequestHead& head) override {
    Admitted admitted;
    auto& request = admitted.request;
    request.method = head.method;
    request.path = head.path;
    request.segments = head.segments;
    request.query = head.query;
    request.headers = head.headers;
    request.client_address = head.remote_address;
    request.secure = head.tls;
    if (config.trust_proxy) {
      if (auto forwarded = head.header("x-forwarded-for")) {
        const auto first = forwarded->substr(0, forwarded->find(','));
        const auto begin = first.find_first_not_of(" \t");
        if (begin != std::string_view::npos) {
          request.client_address =
              std::string(first.substr(begin, first.find_last_not_of(" \t") - begin + 1));
        }
      }
      if (auto proto = head.header("x-forwarded-proto")) request.secure = *proto == "https";
    }
    auto route = admit_request(request);
    if (!route && is_web_request(request, route.error())) {
      head.context = std::make_shared<Admitted>(std::move(admitted));
      return {std::nullopt, 0};
    }
    if (!route) return {error_response(route.error()), 0};
    admitted.route = *route;
    head.context = std::make_shared<Admitted>(std::move(admitted));
    return {std::nullopt, is_multipart(head) ? config.max_upload_bytes : config.max_json_bytes};
  }

  http::Response handle(http::Request& http_request) override {
    auto admitted = std::any_cast<std::shared_ptr<Admitted>>(http_request.context);
    auto& request = admitted->request;
    if (admitted->route == nullptr) {
      if (!web) return error(404, "Cannot " + request.method + " " + request.path);
      return to_response(web->serve(request));
    }
    request.body = http_request.body;
    if (is_multipart(http_request)) {
      auto boundary = http::multipart_boundary(http_request.header("content-type").value_or(""));
      if (!boundary) return error_response(bad_request(boundary.error().message));
      auto parts = http::parse_multipart(http_request.body, *boundary);
      if (!parts) return error_response(parts.error());
      request.parts = std::move(*parts);
      request.body = {};
    }
    Expected<ApiResponse> reply = internal_error("no reply");
    try {
      reply = admitted->route->handler(request);
    } catch (const std::exception& e) {
      spdlog::error("{} {} threw: {}", request.method, request.path, e.what());
      reply = internal_error("Internal server error");
    }
    if (!reply) {
      if (reply.error().kind == ErrorKind::kInternal) {
        spdlog::error("{} {}: {}", request.method, request.path, reply.error().message);
        return error_response(internal_error("Internal server error"));
      }
      return error_response(reply.error());
    }
    return to_response(std::move(*reply));
  }

  http::Response error(int status, std::string message) const override {
    auto response = http::Response::text(status, dump(error_body(status, message)), kJson);
    add_nosniff(response);
    return response;
  }
};

HttpServer::HttpServer(HttpServerConfig config, const Api& api, Authenticator authenticate)
    : impl_(std::make_unique<Impl>(std::move(config), api, std::move(authenticate))) {}

HttpServer::~HttpServer() = default;

http::Server& HttpServer::front() { return impl_->server; }

}  // namespace focal::server
