// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ml_server/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <semaphore>

#include "http/form.h"
#include "http/multipart.h"
#include "ml_server/auth.h"

namespace focal {
namespace {

constexpr const char* kJson = "application/json";

enum class Route { kRoot, kPing, kMetrics, kPredict };

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

http::Response to_response(const Reply& reply) {
  return http::Response::text(reply.status, reply.body, reply.content_type);
}

http::Response detail_response(int status, std::string_view message) {
  return http::Response::text(status, render_detail(message), kJson);
}

// Collects entries/image/text from a multipart or urlencoded body. Non-file fields are size-limited. As in
// FastAPI, an empty text field counts as absent.
Expected<PredictForm> read_form(const http::Request& req, std::size_t max_field_bytes) {
  PredictForm form;
  auto field = [&](std::string_view name, std::string_view value) -> Status {
    if (value.size() > max_field_bytes) {
      return Error{ErrorKind::kPayloadTooLarge, "Form field '" + std::string(name) + "' is larger than " +
                                                    std::to_string(max_field_bytes) + " bytes"};
    }
    return {};
  };
  const auto type = std::string(req.header("content-type").value_or(""));
  const auto media = http::parse_media_type(type);
  if (media && media->type == "multipart/form-data") {
    auto boundary = http::multipart_boundary(type);
    if (!boundary) return boundary.error();
    auto parts = http::parse_multipart(req.body, *boundary);
    if (!parts) return parts.error();
    for (const auto& part : *parts) {
      if (part.name == "image" && !form.image) {
        form.image = std::string(part.content);
      } else if (part.name == "entries" && !form.entries) {
        if (auto st = field(part.name, part.content); !st) return st.error();
        form.entries = std::string(part.content);
      } else if (part.name == "text" && !form.text) {
        if (auto st = field(part.name, part.content); !st) return st.error();
        if (!part.content.empty()) form.text = std::string(part.content);
      }
    }
    return form;
  }
  if (media && media->type == "application/x-www-form-urlencoded") {
    const auto fields = http::parse_urlencoded(req.body);
    for (const char* name : {"entries", "text"}) {
      const auto found = fields.find(name);
      if (found == fields.end()) continue;
      if (auto st = field(name, found->second); !st) return st.error();
      if (std::string_view(name) == "text" && found->second.empty()) continue;
      (std::string_view(name) == "entries" ? form.entries : form.text) = found->second;
    }
    return form;
  }
  if (type.empty() && req.body.empty()) return form;  // no body at all: reported as the missing field
  return Error{ErrorKind::kUnprocessable,
               "Content-Type must be multipart/form-data (or application/x-www-form-urlencoded), got '" +
                   type.substr(0, 100) + "'"};
}

}  // namespace

struct MlServer::Impl final : http::Service {
  ServerConfig config;
  const TaskRegistry& registry;
  ServiceMetrics* metrics;
  std::counting_semaphore<> compute;
  http::Server server;

  Impl(ServerConfig c, const TaskRegistry& r, ServiceMetrics* m)
      : config(std::move(c)),
        registry(r),
        metrics(m),
        compute(std::max<std::ptrdiff_t>(config.request_threads, 1)),
        server(http_config(config), *this) {}

  static http::ServerConfig http_config(const ServerConfig& c) {
    http::ServerConfig out;
    out.name = "focal-ml";
    out.host = c.host;
    out.port = c.port;
    out.worker_threads = std::max({c.http_threads, c.request_threads, 1});
    out.access_log = c.access_log;
    out.limits = c.http_limits;
    out.tls = c.tls;
    return out;
  }

  bool is_inline(const http::RequestHead& head) const override {
    return head.path == "/" || head.path == "/ping";
  }

  http::Admission admit(http::RequestHead& head) override {
    const auto refuse = [](http::Response response) { return http::Admission{std::move(response), 0}; };
    const auto& path = head.path;
    const bool open_route = path == "/" || path == "/ping";
    // The API key guards everything but the liveness routes, before any body is read.
    if (!open_route && !api_key_accepted(config.api_key, head.header("x-api-key").value_or(""),
                                         head.header("authorization").value_or(""))) {
      auto response = detail_response(401,
                                      "Not authenticated: send the API key in the x-api-key header "
                                      "or as Authorization: Bearer <key>");
      response.headers.emplace_back("WWW-Authenticate", "Bearer");
      return refuse(std::move(response));
    }
    std::optional<Route> route;
    std::string_view method = "GET";
    if (path == "/") route = Route::kRoot;
    if (path == "/ping") route = Route::kPing;
    if (path == "/metrics") route = Route::kMetrics;
    if (path == "/predict") {
      route = Route::kPredict;
      method = "POST";
    }
    if (!route) return refuse(detail_response(404, "Not Found"));
    if (head.method != method) return refuse(detail_response(405, "Method Not Allowed"));  // FastAPI's answer
    head.context = *route;
    return {std::nullopt, *route == Route::kPredict ? config.max_body_bytes : 0};
  }

  http::Response handle(http::Request& request) override {
    switch (std::any_cast<Route>(request.context)) {
      case Route::kRoot:
        return http::Response::text(200, R"({"message":"Immich ML"})", kJson);
      case Route::kPing:
        return http::Response::text(200, "pong", "text/plain");
      case Route::kMetrics:
        if (metrics == nullptr) return detail_response(404, "Not Found");
        return http::Response::text(200, metrics->render(), "text/plain; version=0.0.4; charset=utf-8");
      case Route::kPredict:
        return predict_route(request);
    }
    return detail_response(404, "Not Found");
  }

  http::Response predict_route(const http::Request& request) {
    const auto start = std::chrono::steady_clock::now();
    const GaugeScope in_flight(metrics != nullptr ? &metrics->in_flight() : nullptr);
    auto form = read_form(request, config.max_field_bytes);
    if (!form) return to_response(error_reply(form.error()));
    http::Response response;
    {
      // Decoding and inference are bounded by MACHINE_LEARNING_REQUEST_THREADS.
      std::optional<GaugeScope> queued(std::in_place, metrics != nullptr ? &metrics->queue_depth() : nullptr);
      const ComputePermit permit(compute);
      queued.reset();
      response = to_response(predict(*form, registry, config.limits, metrics));
    }
    if (metrics != nullptr)
      metrics->on_request(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return response;
  }

  http::Response error(int status, std::string message) const override {
    if (status == 500) message = "Internal Server Error";  // details are logged, not sent
    return detail_response(status, message);
  }

  void observe(const http::RequestHead& head, int status, double /*seconds*/) override {
    if (metrics != nullptr) metrics->on_http_response(head.path, status);
  }
};

MlServer::MlServer(ServerConfig config, const TaskRegistry& registry, ServiceMetrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(config), registry, metrics)) {}

MlServer::~MlServer() = default;

http::Server& MlServer::front() { return impl_->server; }

}  // namespace focal
