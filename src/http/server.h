// SPDX-License-Identifier: AGPL-3.0-or-later
// The HTTP front shared by focal-ml and `focal serve` (docs/adr/0002-http-front.md): Boost.Beast on one
// asynchronous I/O thread that accepts, reads request heads and bodies, and writes responses, plus a pool of
// worker threads that run the routes.
//
// Because heads are read asynchronously with a deadline, stalled or slow clients (slowloris) hold a socket
// and a few KiB, never a thread: `/ping` keeps answering however many of them there are, and when the
// connection limit is reached the connection that has waited longest for its head is dropped to make room.
// Every limit below is enforced per connection; requests on one connection (pipelined or not) are answered
// in order.
//
// A server plugs in a Service: which requests are cheap enough to answer on the I/O thread, what to do with
// a request before its body is read (routing, credentials, body limit), the handler itself, and the error
// body shape (FastAPI's {"detail"} for focal-ml, Immich's {"message","statusCode","error"} for focal serve).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/http_front.h"
#include "core/error.h"
#include "http/message.h"

namespace focal::http {

struct Limits {
  std::size_t max_target_bytes = 8 * 1024;   // request-target (414 above)
  std::size_t max_header_bytes = 16 * 1024;  // request line + headers (431 above)
  std::size_t max_header_count = 100;        // header fields (431 above)
  // From the first byte of a request to the end of its head (408 and close after it).
  std::chrono::milliseconds header_timeout{10'000};
  // An idle kept-alive connection is closed after this.
  std::chrono::milliseconds keepalive_timeout{5'000};
  // Deadline for a body: body_timeout plus one second per min_body_rate bytes announced (408 after it).
  std::chrono::milliseconds body_timeout{30'000};
  std::size_t min_body_rate = 64 * 1024;
  std::chrono::milliseconds write_timeout{60'000};
  std::size_t max_connections = 4096;
  // Bodies buffered at once across all connections; a request whose body does not fit gets 503.
  std::size_t max_buffered_body_bytes = std::size_t{1} << 30;
};

struct TlsConfig {
  std::string cert_file;  // PEM certificate chain; empty: plain HTTP
  std::string key_file;   // PEM private key
  bool enabled() const { return !cert_file.empty(); }
};

// The limits and TLS files of a server's <PREFIX>* settings (config/http_front.h).
Limits limits_from(const HttpFrontConfig& config, std::chrono::seconds keepalive_timeout);
TlsConfig tls_from(const HttpFrontConfig& config);

struct ServerConfig {
  std::string name = "http";  // in log lines
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port
  int worker_threads = 16;
  bool access_log = false;  // one info line per request (otherwise debug)
  Limits limits;
  TlsConfig tls;
};

// What a service decided about a request from its head alone.
struct Admission {
  // Answer with this and never read the body (the connection closes when a body was announced).
  std::optional<Response> refusal;
  std::size_t body_limit = 0;  // larger bodies get 413
};

class Service {
 public:
  virtual ~Service() = default;
  // Runs on the I/O thread: true when admit() and handle() for this request are cheap and never block
  // (health checks), so they answer even when every worker is busy.
  virtual bool is_inline(const RequestHead& head) const = 0;
  // Before the body is read: route, authenticate, choose the body limit. May block (database) unless inline.
  virtual Admission admit(RequestHead& head) = 0;
  virtual Response handle(Request& request) = 0;
  // The server's error body for errors the HTTP layer raises itself (malformed requests, limits, timeouts,
  // exceptions escaping handle()).
  virtual Response error(int status, std::string message) const = 0;
  // Called once per answered request (metrics); may be empty.
  virtual void observe(const RequestHead& /*head*/, int /*status*/, double /*seconds*/) {}
};

class Server {
 public:
  // `service` outlives the server.
  Server(ServerConfig config, Service& service);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; returns the bound port, or an error naming host and port (or the TLS files).
  Expected<int> bind();
  // Serves until stop(); in-flight requests finish (up to their write timeout) before it returns.
  void serve();
  // Thread-safe; makes serve() return.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace focal::http
