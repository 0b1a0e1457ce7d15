// SPDX-License-Identifier: AGPL-3.0-or-later
// Serves an HTTP front (http/server.h) on a background thread for as long as this object lives: bound on
// construction (a free port when its config says 0), stopped and joined on destruction.
#pragma once

#include <thread>

#include "http/server.h"

namespace focal::test_support {

class BackgroundServer {
 public:
  explicit BackgroundServer(http::Server& server) : server_(server) {
    auto port = server_.bind();
    if (!port) return;
    port_ = *port;
    thread_ = std::thread([this] { server_.serve(); });
  }
  ~BackgroundServer() {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }
  BackgroundServer(const BackgroundServer&) = delete;
  BackgroundServer& operator=(const BackgroundServer&) = delete;

  // The bound port, or -1 when binding failed.
  int port() const { return port_; }

 private:
  http::Server& server_;
  std::thread thread_;
  int port_ = -1;
};

}  // namespace focal::test_support
