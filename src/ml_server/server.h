// The HTTP front of focal-ml: Immich's routes (spec §1.2) on cpp-httplib (docs/adr/0001-http-server.md).
// HTTP threads do all parsing, decoding and formatting; handlers see typed requests only.
#pragma once

#include <memory>
#include <string>

#include "ml_server/observability.h"
#include "ml_server/predict.h"

namespace focal {

struct ServerConfig {
  std::string host = "[::]";
  int port = 3003;          // 0 picks a free port
  int request_threads = 4;  // concurrent decode + inference
  int http_threads = 64;    // connections served at once (mostly waiting on sockets)
  int keepalive_timeout_s = 2;
  std::size_t max_body_bytes = std::size_t{64} << 20;
  std::size_t max_field_bytes = std::size_t{1} << 20;
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

  // Binds the socket; returns the bound port, or an error naming host and port.
  Expected<int> bind();
  // Serves until stop(); in-flight requests finish before it returns.
  void serve();
  // Thread-safe; makes serve() return.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace focal
