#include "ml_server/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <semaphore>

#include "ml_server/auth.h"

namespace focal {
namespace {

constexpr const char* kJson = "application/json";

// Counts a gauge up for the lifetime of a scope.
class GaugeScope {
 public:
  explicit GaugeScope(Gauge* gauge) : gauge_(gauge) {
    if (gauge_ != nullptr) gauge_->add(1);
  }
  ~GaugeScope() {
    if (gauge_ != nullptr) gauge_->add(-1);
  }
  GaugeScope(const GaugeScope&) = delete;
  GaugeScope& operator=(const GaugeScope&) = delete;

 private:
  Gauge* gauge_;
};

class ComputePermit {
 public:
  explicit ComputePermit(std::counting_semaphore<>& semaphore) : semaphore_(semaphore) {
    semaphore_.acquire();
  }
  ~ComputePermit() { semaphore_.release(); }
  ComputePermit(const ComputePermit&) = delete;
  ComputePermit& operator=(const ComputePermit&) = delete;

 private:
  std::counting_semaphore<>& semaphore_;
};

void send(httplib::Response& res, const Reply& reply) {
  res.status = reply.status;
  res.set_content(reply.body, reply.content_type.c_str());
}

std::string reason(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Not authenticated";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Request body too large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    default:
      return status >= 500 ? "Internal Server Error" : "Request rejected";
  }
}

// Collects entries/image/text from a multipart or urlencoded body. Non-file fields are size-limited.
Expected<PredictForm> read_form(const httplib::Request& req, std::size_t max_field_bytes) {
  PredictForm form;
  auto field = [&](const std::string& name, const std::string& value) -> Status {
    if (value.size() > max_field_bytes) {
      return Error{ErrorKind::kPayloadTooLarge,
                   "Form field '" + name + "' is larger than " + std::to_string(max_field_bytes) + " bytes"};
    }
    return {};
  };
  if (req.is_multipart_form_data()) {
    for (const auto& [name, part] : req.files) {
      if (name == "image" && !form.image) {
        form.image = part.content;
      } else if (name == "entries" && !form.entries) {
        if (auto st = field(name, part.content); !st) return st.error();
        form.entries = part.content;
      } else if (name == "text" && !form.text) {
        if (auto st = field(name, part.content); !st) return st.error();
        form.text = part.content;
      }
    }
    return form;
  }
  const auto type = req.get_header_value("Content-Type");
  if (type.rfind("application/x-www-form-urlencoded", 0) == 0) {
    for (const char* name : {"entries", "text"}) {
      if (!req.has_param(name)) continue;
      auto value = req.get_param_value(name);
      if (auto st = field(name, value); !st) return st.error();
      (std::string(name) == "entries" ? form.entries : form.text) = std::move(value);
    }
    return form;
  }
  if (type.empty() && req.body.empty()) return form;  // no body at all: reported as the missing field
  return Error{ErrorKind::kUnprocessable,
               "Content-Type must be multipart/form-data (or application/x-www-form-urlencoded), got '" +
                   type.substr(0, 100) + "'"};
}

}  // namespace

struct MlServer::Impl {
  ServerConfig config;
  const TaskRegistry& registry;
  ServiceMetrics* metrics;
  httplib::Server http;

  std::counting_semaphore<> compute;
  int listen_socket = -1;

  Impl(ServerConfig c, const TaskRegistry& r, ServiceMetrics* m)
      : config(std::move(c)),
        registry(r),
        metrics(m),
        compute(std::max<std::ptrdiff_t>(config.request_threads, 1)) {}
};

MlServer::MlServer(ServerConfig config, const TaskRegistry& registry, ServiceMetrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(config), registry, metrics)) {
  auto& http = impl_->http;
  const auto& cfg = impl_->config;
  const auto threads = static_cast<std::size_t>(std::max({cfg.http_threads, cfg.request_threads, 1}));
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_socket_options([this](int sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    impl_->listen_socket =
        sock;  // the last socket created is the listening one; its backlog is raised in bind()
  });
  // Without TCP_NODELAY a small response waits ~40 ms for the client's delayed ACK (Nagle), which dominated
  // clip.textual latency in bench/run_e2e.sh. Accepted sockets inherit the option from the listening socket.
  http.set_tcp_nodelay(true);
  http.set_payload_max_length(cfg.max_body_bytes);
  http.set_keep_alive_timeout(std::max(cfg.keepalive_timeout_s, 1));
  http.set_read_timeout(60);
  http.set_write_timeout(60);

  // Checks on the request head, before cpp-httplib reads any body: it would otherwise wait up to its read
  // timeout for a body that is missing, announced too large, or chunked (where its size limit does not
  // apply).
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    auto refuse = [&](const Error& error) {
      send(res, error_reply(error));
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    };
    // The API key guards everything but the liveness routes, before any body is read.
    const bool open_route = req.path == "/" || req.path == "/ping";
    if (!open_route && !api_key_accepted(impl_->config.api_key, req.get_header_value("x-api-key"),
                                         req.get_header_value("Authorization"))) {
      res.set_header("WWW-Authenticate", "Bearer");
      return refuse({ErrorKind::kUnauthorized,
                     "Not authenticated: send the API key in the x-api-key header "
                     "or as Authorization: Bearer <key>"});
    }
    if (req.method != "POST") return httplib::Server::HandlerResponse::Unhandled;
    if (req.has_header("Transfer-Encoding")) {
      return refuse({ErrorKind::kLengthRequired,
                     "Send the body with a Content-Length; chunked uploads are not accepted"});
    }
    if (!req.has_header("Content-Length")) {
      // HTTP/1.1 defines such a body as empty.
      if (req.path == "/predict") {
        send(res, predict(PredictForm{}, TaskRegistry{}, PredictLimits{}));
        return httplib::Server::HandlerResponse::Handled;
      }
      return refuse(req.path == "/" || req.path == "/ping"
                        ? Error{ErrorKind::kMethodNotAllowed, "Method Not Allowed"}
                        : Error{ErrorKind::kNotFound, "Not Found"});
    }
    const auto length_text = req.get_header_value("Content-Length");
    std::uint64_t length = 0;
    const auto* end = length_text.data() + length_text.size();
    const auto [ptr, ec] = std::from_chars(length_text.data(), end, length);
    if (length_text.empty() || ec != std::errc() || ptr != end ||
        req.get_header_value_count("Content-Length") != 1) {
      return refuse(bad_request("Invalid Content-Length"));
    }
    if (length > impl_->config.max_body_bytes) {
      return refuse({ErrorKind::kPayloadTooLarge,
                     "Request body of " + std::to_string(length) + " bytes is larger than the limit of " +
                         std::to_string(impl_->config.max_body_bytes) + " bytes"});
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"message":"Immich ML"})", kJson);
  });
  http.Get("/ping",
           [](const httplib::Request&, httplib::Response& res) { res.set_content("pong", "text/plain"); });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    if (impl_->metrics == nullptr) {
      send(res, error_reply({ErrorKind::kNotFound, "Not Found"}));
      return;
    }
    res.set_content(impl_->metrics->render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Post("/predict", [this](const httplib::Request& req, httplib::Response& res) {
    auto* observer = impl_->metrics;
    const auto start = std::chrono::steady_clock::now();
    const GaugeScope in_flight(observer != nullptr ? &observer->in_flight() : nullptr);
    auto form = read_form(req, impl_->config.max_field_bytes);
    if (!form) {
      send(res, error_reply(form.error()));
      return;
    }
    {
      // Decoding and inference are bounded by MACHINE_LEARNING_REQUEST_THREADS; HTTP threads beyond that only
      // wait on sockets, so slow clients cannot starve /ping.
      std::optional<GaugeScope> queued(std::in_place,
                                       observer != nullptr ? &observer->queue_depth() : nullptr);
      const ComputePermit permit(impl_->compute);
      queued.reset();
      send(res, predict(*form, impl_->registry, impl_->config.limits, observer));
    }
    if (observer != nullptr)
      observer->on_request(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  });
  // FastAPI answers 405 for a known path with the wrong method.
  const auto not_allowed = [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_content(R"({"detail":"Method Not Allowed"})", kJson);
  };
  for (const char* path : {"/", "/ping", "/predict", "/metrics"}) {
    if (std::string(path) != "/predict") {
      http.Post(path, not_allowed);
    } else {
      http.Get(path, not_allowed);
    }
    http.Put(path, not_allowed);
    http.Delete(path, not_allowed);
    http.Patch(path, not_allowed);
  }
  // Errors produced by the HTTP layer itself (404, 413, malformed multipart...) get a JSON body too.
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        res.set_content(render_detail(reason(res.status)), kJson);
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("Unhandled exception for {} {}: {}", req.method, req.path, what);
    res.status = 500;
    res.set_content(render_detail("Internal Server Error"), kJson);
  });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("{} {} -> {}", req.method, req.path, res.status);
    if (impl_->metrics != nullptr) impl_->metrics->on_http_response(req.path, res.status);
  });
}

MlServer::~MlServer() = default;

Expected<int> MlServer::bind() {
  auto host = impl_->config.host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const int port = impl_->config.port;
  const int bound =
      port == 0 ? impl_->http.bind_to_any_port(host) : (impl_->http.bind_to_port(host, port) ? port : -1);
  // cpp-httplib listens with a backlog of 5, which a burst of connections overflows; Linux lets us raise it.
  if (bound >= 0 && impl_->listen_socket >= 0) ::listen(impl_->listen_socket, SOMAXCONN);
  if (bound < 0) {
    return Error{ErrorKind::kUnavailable, "Cannot listen on " + impl_->config.host + ":" +
                                              std::to_string(port) + " (address in use or not available)"};
  }
  return bound;
}

void MlServer::serve() { impl_->http.listen_after_bind(); }

void MlServer::stop() { impl_->http.stop(); }

}  // namespace focal
