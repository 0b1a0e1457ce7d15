// SPDX-License-Identifier: AGPL-3.0-or-later
// The library server's HTTP service on the shared front (http/server.h), serving an Api route table.
//
// Every request is matched against the table and authenticated (unless its route is public) BEFORE its body
// is read, so an anonymous client cannot make the server buffer an upload; API keys must carry the route's
// permission; bodies are bounded (uploads by max_upload_bytes, everything else by max_json_bytes); every
// error is Immich's JSON error body. GET/HEAD requests outside /api/ that no route matches are the web UI's
// static files (server/web_app.h) when a web root is configured.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "http/server.h"
#include "server/api.h"

namespace focal::server {

struct HttpServerConfig {
  std::string host = "127.0.0.1";
  int port = 2283;  // 0 picks a free port
  int http_threads = 16;
  std::size_t max_upload_bytes = std::size_t{512} << 20;  // multipart/form-data bodies
  std::size_t max_json_bytes = std::size_t{1} << 20;      // every other body
  http::Limits limits;
  http::TlsConfig tls;
  bool access_log = false;
  // Behind a reverse proxy: take the client address from X-Forwarded-For and the scheme from
  // X-Forwarded-Proto (login throttling, Secure cookies). Only safe when the proxy sets both.
  bool trust_proxy = false;
  // The web UI's files (server/web_app.h), served for GET/HEAD outside /api/ that no route matches; empty:
  // none (those requests get the API's 404).
  std::filesystem::path web_root;
};

// Resolves the credentials of a request (Authorization: Bearer, the immich_access_token cookie, x-api-key);
// returns kUnauthorized when there are none or they are invalid.
using Authenticator = std::function<Expected<Caller>(const ApiRequest&)>;

// Immich's error body: {"message": ..., "statusCode": N, "error": "<reason phrase>"}.
nlohmann::json error_body(const Error& error);
nlohmann::json error_body(int status, std::string_view message);

class HttpServer {
 public:
  HttpServer(HttpServerConfig config, const Api& api, Authenticator authenticate);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The HTTP front serving it: bind(), serve() until stop() (thread-safe).
  http::Server& front();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace focal::server
