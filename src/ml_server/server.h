// SPDX-License-Identifier: AGPL-3.0-or-later
// focal-ml's routes (Immich's) on the shared HTTP front (http/server.h): `/`, `/ping` (answered on the I/O
// thread, so they stay fast however busy the workers are), `/predict`, `/metrics`, FastAPI-style
// {"detail": ...} errors. HTTP workers parse forms, decode and format; handlers see typed requests only.
#pragma once

#include <memory>
#include <string>

#include "http/server.h"
#include "ml_server/observability.h"
#include "ml_server/predict.h"

namespace focal {

struct ServerConfig {
  std::string host = "[::]";
  int port = 3003;          // 0 picks a free port
  int request_threads = 4;  // concurrent decode + inference
  int http_threads = 64;    // HTTP workers: form parsing and waiting for a compute permit
  std::size_t max_body_bytes = std::size_t{64} << 20;
  std::size_t max_field_bytes = std::size_t{1} << 20;
  http::Limits http_limits;  // head/body timeouts, header limits, connection limit
  http::TlsConfig tls;
  bool access_log = false;
  PredictLimits limits;
  std::string api_key;  // FOCAL_ML_API_KEY; empty: no authentication
};

class MlServer {
 public:
  // `metrics` (optional, outlives the server) is recorded and served at GET /metrics.
  MlServer(ServerConfig config, const TaskRegistry& registry, ServiceMetrics* metrics = nullptr);
  ~MlServer();
  MlServer(const MlServer&) = delete;
  MlServer& operator=(const MlServer&) = delete;

  // The HTTP front serving it: bind(), serve() until stop() (thread-safe).
  http::Server& front();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace focal
