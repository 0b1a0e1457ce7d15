// SPDX-License-Identifier: AGPL-3.0-or-later
// The shared HTTP front against raw sockets: pipelining, limits, slow and stalled clients (slowloris),
// connection eviction, chunked bodies, 100-continue, the body budget, exceptions, TLS.
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"
#include "support/raw_socket.h"

namespace focal::http {
namespace {

using namespace std::chrono_literals;
using test_support::Socket;
using Clock = std::chrono::steady_clock;

// /ping inline, /slow on a worker (sleeps), /echo returns the body, /boom throws; bodies up to 1 KiB.
class EchoService final : public Service {
 public:
  bool is_inline(const RequestHead& head) const override { return head.path == "/ping"; }
  Admission admit(RequestHead& head) override {
    if (head.path == "/refuse") return {Response::text(403, "no", "text/plain"), 0};
    return {std::nullopt, 1024};
  }
  Response handle(Request& request) override {
    ++handled;
    if (request.path == "/slow") std::this_thread::sleep_for(300ms);
    if (request.path == "/boom") throw std::runtime_error("boom");
    if (request.path == "/echo") return Response::text(200, request.body, "text/plain");
    return Response::text(200, "pong", "text/plain");
  }
  Response error(int status, std::string message) const override {
    return Response::text(status, "error: " + message, "text/plain");
  }
  std::atomic<int> handled{0};
};

class ServerTest : public ::testing::Test {
 protected:
  void start(Limits limits = {}, TlsConfig tls = {}) {
    ServerConfig config;
    config.name = "test";
    config.host = "127.0.0.1";
    config.worker_threads = 2;
    config.limits = limits;
    config.tls = std::move(tls);
    server_ = std::make_unique<Server>(config, service_);
    auto port = server_->bind();
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    thread_ = std::thread([this] { server_->serve(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }

  // One request on a fresh connection; the raw answer.
  std::string exchange(std::string_view request, std::chrono::milliseconds timeout = 2s) {
    Socket socket(port_);
    EXPECT_TRUE(socket.connected());
    socket.send(request);
    auto reply = socket.read_until("\r\n\r\n", 1, timeout);
    return reply + socket.read_until("\n", 1000, 100ms);  // the body, if any
  }

  // Milliseconds for a fresh GET /ping, or -1 when it failed.
  double ping_ms() {
    const auto start = Clock::now();
    const auto reply = exchange("GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    if (reply.find("pong") == std::string::npos) return -1;
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  }

  EchoService service_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  Socket socket(port_);
  std::string requests;
  for (int i = 0; i < 5; ++i) {
    const auto body = "req" + std::to_string(i);
    requests += "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\n\r\n" + body;
  }
  requests += "GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /ping HTTP/1.1\r\nHost: t\r\n\r\n";
  ASSERT_TRUE(socket.send(requests));
  auto data = socket.read_until("HTTP/1.1 200", 7, 5s);
  data += socket.read_until("pong", 2, 200ms);
  std::size_t last = 0;
  for (int i = 0; i < 5; ++i) {
    const auto at = data.find("req" + std::to_string(i));
    ASSERT_NE(at, std::string::npos) << data;
    EXPECT_GT(at, last);
    last = at;
  }
  // The slow request answers before the ping sent after it.
  const auto first_pong = data.find("pong", last);
  ASSERT_NE(first_pong, std::string::npos) << data;
  EXPECT_NE(data.find("pong", first_pong + 1), std::string::npos) << data;
}

TEST_F(ServerTest, PingStaysFastUnder500StalledConnections) {
  Limits limits;
  limits.header_timeout = 30s;
  start(limits);
  std::vector<Socket> stalled;
  for (int i = 0; i < 500; ++i) {
    stalled.emplace_back(port_);
    ASSERT_TRUE(stalled.back().connected());
    stalled.back().send(i % 2 == 0 ? "GET /ping HTTP/1.1\r\nHost: t\r\nX-Slow: " : "P");  // never finished
  }
  std::this_thread::sleep_for(100ms);
  std::vector<double> times;
  for (int i = 0; i < 20; ++i) times.push_back(ping_ms());
  std::sort(times.begin(), times.end());
  EXPECT_GE(times.front(), 0) << "a ping failed";
  EXPECT_LT(times[times.size() / 2], 50.0) << "median ping with 500 stalled connections";
}

TEST_F(ServerTest, PingAnswersWhileEveryWorkerIsBusy) {
  start();
  std::vector<std::thread> busy;
  for (int i = 0; i < 4; ++i) {
    busy.emplace_back([this] { exchange("GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 3s); });
  }
  std::this_thread::sleep_for(50ms);
  const double ms = ping_ms();
  for (auto& t : busy) t.join();
  EXPECT_GE(ms, 0);
  EXPECT_LT(ms, 200.0) << "the inline route waited for a worker";
}

TEST_F(ServerTest, AtTheConnectionLimitTheLongestWaitingIsDropped) {
  Limits limits;
  limits.max_connections = 20;
  limits.header_timeout = 30s;
  start(limits);
  std::vector<Socket> stalled;
  for (int i = 0; i < 20; ++i) {
    stalled.emplace_back(port_);
    stalled.back().send("GET /ping HTTP/1.1\r\n");
    std::this_thread::sleep_for(2ms);
  }
  std::this_thread::sleep_for(50ms);
  EXPECT_GE(ping_ms(), 0) << "a new client must get through at the limit";
  EXPECT_TRUE(stalled.front().closed_within(1s)) << "the oldest stalled connection was not dropped";
}

TEST_F(ServerTest, SlowHeadsAreDropped) {
  Limits limits;
  limits.header_timeout = 300ms;
  start(limits);
  Socket socket(port_);
  socket.send("GET /ping HTTP/1.1\r\nHo");
  const auto start = Clock::now();
  EXPECT_TRUE(socket.closed_within(2s));
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST_F(ServerTest, SlowBodiesAreDropped) {
  Limits limits;
  limits.body_timeout = 300ms;
  start(limits);
  Socket socket(port_);
  socket.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc");
  const auto start = Clock::now();
  EXPECT_TRUE(socket.closed_within(3s));
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(service_.handled.load(), 0);
}

TEST_F(ServerTest, IdleKeptAliveConnectionsAreClosed) {
  Limits limits;
  limits.keepalive_timeout = 200ms;
  start(limits);
  Socket socket(port_);
  socket.send("GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_NE(socket.read_until("pong", 1, 1s).find("pong"), std::string::npos);
  EXPECT_TRUE(socket.closed_within(2s));
}

TEST_F(ServerTest, HeadLimits) {
  start();
  EXPECT_NE(exchange("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n").find(" 414 "),
            std::string::npos);
  EXPECT_NE(
      exchange("GET /ping HTTP/1.1\r\nHost: t\r\nX: " + std::string(20000, 'a') + "\r\n\r\n").find(" 431 "),
      std::string::npos);
  std::string many = "GET /ping HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 101; ++i) many += "X" + std::to_string(i) + ": v\r\n";
  EXPECT_NE(exchange(many + "\r\n").find(" 431 "), std::string::npos);
  EXPECT_NE(exchange("GET /ping HTTP/1.1\r\nHost t\r\n\r\n").find(" 400 "), std::string::npos);
  EXPECT_NE(exchange("GET /ping HTTP/1.1\r\n\r\n").find(" 400 "), std::string::npos) << "no Host";
  EXPECT_NE(exchange("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab")
                .find(" 400 "),
            std::string::npos);
  EXPECT_NE(exchange("GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n").find(" 400 "), std::string::npos);
  EXPECT_EQ(service_.handled.load(), 0) << "no malformed request may reach a handler";
}

TEST_F(ServerTest, BodiesAreBoundedBeforeAndWhileReading) {
  start();
  // Announced too large: refused from the head.
  EXPECT_NE(exchange("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n").find(" 413 "),
            std::string::npos);
  // Chunked: counted while decoding.
  std::string chunked = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) chunked += "200\r\n" + std::string(512, 'x') + "\r\n";
  EXPECT_NE(exchange(chunked + "0\r\n\r\n").find(" 413 "), std::string::npos);
  // Within the limit, chunked bodies are decoded.
  const auto ok =
      exchange("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_NE(ok.find("\r\n\r\nabc"), std::string::npos) << ok;
}

TEST_F(ServerTest, RefusalsNeverReadTheBody) {
  start();
  Socket socket(port_);
  socket.send("POST /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
  const auto reply = socket.read_until("no", 1, 2s);
  EXPECT_NE(reply.find(" 403 "), std::string::npos) << reply;
  EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
}

TEST_F(ServerTest, ExpectContinueGetsAnInterimAnswer) {
  start();
  Socket socket(port_);
  socket.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_NE(socket.read_until("\r\n\r\n", 1, 1s).find("100 Continue"), std::string::npos);
  socket.send("hello");
  EXPECT_NE(socket.read_until("hello", 1, 1s).find("hello"), std::string::npos);
}

TEST_F(ServerTest, HeadRequestsGetHeadersOnly) {
  start();
  Socket socket(port_);
  socket.send("HEAD /ping HTTP/1.1\r\nHost: t\r\n\r\nGET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
  auto data = socket.read_until("pong", 1, 2s);
  EXPECT_NE(data.find("Content-Length: 4\r\n\r\nHTTP/1.1 200"), std::string::npos) << data;
}

TEST_F(ServerTest, HandlerExceptionsBecome500AndTheServerStaysUp) {
  start();
  EXPECT_NE(exchange("GET /boom HTTP/1.1\r\nHost: t\r\n\r\n").find(" 500 "), std::string::npos);
  EXPECT_GE(ping_ms(), 0);
}

TEST_F(ServerTest, BodyBudgetRefusesWith503) {
  Limits limits;
  limits.max_buffered_body_bytes = 1000;
  limits.body_timeout = 2s;
  start(limits);
  Socket holder(port_);
  holder.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 900\r\n\r\nabc");  // reserves 900 bytes
  std::this_thread::sleep_for(100ms);
  const auto reply =
      exchange("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 200\r\n\r\n" + std::string(200, 'x'));
  EXPECT_NE(reply.find(" 503 "), std::string::npos) << reply;
  EXPECT_NE(reply.find("Retry-After"), std::string::npos) << reply;
}

TEST_F(ServerTest, ServesTlsWhenConfigured) {
  const auto dir = std::filesystem::temp_directory_path() / ("focal-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto cert = dir / "cert.pem";
  const auto key = dir / "key.pem";
  const auto command = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout " +
                       key.string() + " -out " + cert.string() + " >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) GTEST_SKIP() << "openssl is not available to make a certificate";
  start({}, TlsConfig{cert.string(), key.string()});
  Client client;
  ClientRequest request;
  request.url = "https://127.0.0.1:" + std::to_string(port_) + "/ping";
  request.ca_file = cert.string();
  request.verify_host = false;
  std::string body;
  const auto result = client.perform(request, body, 1024);
  EXPECT_TRUE(result.transport_ok) << result.error;
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(body, "pong");
  // Plain HTTP on the TLS port gets no answer.
  EXPECT_EQ(exchange("GET /ping HTTP/1.1\r\nHost: t\r\n\r\n", 500ms).find("pong"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(ServerBind, ReportsAPortInUse) {
  EchoService service;
  ServerConfig config;
  config.host = "127.0.0.1";
  Server first(config, service);
  auto port = first.bind();
  ASSERT_TRUE(port.ok());
  config.port = *port;
  Server second(config, service);
  auto again = second.bind();
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find(std::to_string(*port)), std::string::npos);
}

}  // namespace
}  // namespace focal::http
