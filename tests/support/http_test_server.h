// SPDX-License-Identifier: AGPL-3.0-or-later
// An in-process HTTP server on a free loopback port for tests that need a peer (fake hub, fake ML nodes):
// the production HTTP front (http/server.h) with handlers per "METHOD /path" (exact path, no parameters).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "http/client.h"
#include "http/server.h"

namespace focal::test_support {

class HttpTestServer final : public http::Service {
 public:
  using Handler = std::function<http::Response(const http::Request&)>;

  explicit HttpTestServer(int port = 0, std::size_t body_limit = std::size_t{64} << 20, int threads = 8)
      : body_limit_(body_limit), server_(config(port, threads), *this) {}
  ~HttpTestServer() override { stop(); }
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  // Routes must be added before start().
  void on(const std::string& method, const std::string& path, Handler handler) {
    routes_[method + " " + path] = std::move(handler);
  }
  // Handles every request that no route matches.
  void fallback(Handler handler) { fallback_ = std::move(handler); }

  // Binds (a free port unless one was given) and serves on a background thread; returns the port, or -1
  // when the port cannot be bound.
  int start() {
    auto port = server_.bind();
    if (!port) return -1;
    port_ = *port;
    thread_ = std::thread([this] { server_.serve(); });
    return port_;
  }
  void stop() {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  bool is_inline(const http::RequestHead&) const override { return false; }
  http::Admission admit(http::RequestHead&) override { return {std::nullopt, body_limit_}; }
  http::Response handle(http::Request& request) override {
    const auto found = routes_.find(request.method + " " + request.path);
    if (found != routes_.end()) return found->second(request);
    if (fallback_) return fallback_(request);
    return error(404, "Not Found");
  }
  http::Response error(int status, std::string message) const override {
    return http::Response::text(status, message, "text/plain");
  }

 private:
  static http::ServerConfig config(int port, int threads) {
    http::ServerConfig out;
    out.name = "test-server";
    out.host = "127.0.0.1";
    out.port = port;
    out.worker_threads = threads;
    return out;
  }

  std::size_t body_limit_;
  std::map<std::string, Handler> routes_;
  Handler fallback_;
  http::Server server_;
  std::thread thread_;
  int port_ = 0;
};

// One request with the production client: {status (0 on transport error), body}.
struct TestReply {
  long status = 0;
  std::string body;
  std::multimap<std::string, std::string> headers;
  std::string error;
};

inline TestReply send(const http::ClientRequest& request) {
  http::Client client;
  TestReply reply;
  const auto result = client.perform(request, reply.body, std::size_t{256} << 20);
  reply.status = result.transport_ok ? result.status : 0;
  reply.headers = result.headers;
  reply.error = result.error;
  return reply;
}

}  // namespace focal::test_support
