#include "server/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>

namespace focal::server {
namespace {

using httplib::Server;

constexpr const char* kJson = "application/json";

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

void send_error(httplib::Response& res, const Error& error) {
  res.status = http_status(error.kind);
  res.set_content(error_body(error).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kJson);
}

// Copies the head of the request (not the body) into an ApiRequest.
ApiRequest request_head(const httplib::Request& req) {
  ApiRequest out;
  out.method = req.method;
  out.path = req.path;
  for (const auto& [name, value] : req.params) out.query.emplace(name, value);
  for (const auto& [name, value] : req.headers) out.headers.emplace(lower(name), value);
  return out;
}

bool is_multipart(const ApiRequest& req) {
  const auto type = req.header("content-type");
  return type && lower(type->substr(0, 19)) == "multipart/form-data";
}

void send_file(httplib::Response& res, const ApiResponse& reply) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(reply.file, ec);
  auto stream = std::make_shared<std::ifstream>(reply.file, std::ios::binary);
  if (ec || !*stream) {
    send_error(res, not_found("File not found"));
    return;
  }
  res.status = reply.status;
  res.set_content_provider(static_cast<std::size_t>(size), reply.content_type.c_str(),
                           [stream](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                             std::string buffer(std::min<std::size_t>(length, 64 * 1024), '\0');
                             stream->seekg(static_cast<std::streamoff>(offset));
                             stream->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
                             const auto got = stream->gcount();
                             if (got <= 0) return false;  // the file shrank under us: abort the response
                             sink.write(buffer.data(), static_cast<std::size_t>(got));
                             return true;
                           });
}

}  // namespace

std::string reason_phrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return status >= 500 ? "Internal Server Error" : "Bad Request";
  }
}

nlohmann::json error_body(const Error& error) {
  const int status = http_status(error.kind);
  return {{"message", error.message}, {"statusCode", status}, {"error", reason_phrase(status)}};
}

struct HttpServer::Impl {
  HttpServerConfig config;
  const Api& api;
  Authenticator authenticate;
  httplib::Server http;
  int listen_socket = -1;

  Impl(HttpServerConfig c, const Api& a, Authenticator auth)
      : config(std::move(c)), api(a), authenticate(std::move(auth)) {}

  // Route lookup and authentication, from the request head only.
  Expected<const Api::Route*> admit(ApiRequest& request) const {
    auto route = api.match(request.method, request.path, request.path_params);
    if (!route) return route.error();
    if ((*route)->access == Access::kPublic) {
      // Public routes still see the caller when credentials are given (e.g. logout).
      if (auto caller = authenticate(request)) request.caller = *caller;
      return route;
    }
    auto caller = authenticate(request);
    if (!caller) return caller.error();
    if ((*route)->access == Access::kAdmin && !caller->is_admin) {
      return Error{ErrorKind::kForbidden, "Forbidden: admin access required"};
    }
    request.caller = *caller;
    return route;
  }

  void dispatch(const httplib::Request& req, httplib::Response& res) const {
    ApiRequest request = request_head(req);
    auto route = admit(request);
    if (!route) {
      send_error(res, route.error());
      return;
    }
    request.body = req.body;
    if (req.is_multipart_form_data()) {
      request.body = {};
      for (const auto& [name, part] : req.files) {
        request.parts.push_back(FormPart{part.name, part.filename, part.content_type, part.content});
      }
    }
    Expected<ApiResponse> reply = internal_error("no reply");
    try {
      reply = (*route)->handler(request);
    } catch (const std::exception& e) {
      spdlog::error("{} {} threw: {}", req.method, req.path, e.what());
      reply = internal_error("Internal server error");
    }
    if (!reply) {
      if (reply.error().kind == ErrorKind::kInternal) {
        spdlog::error("{} {}: {}", req.method, req.path, reply.error().message);
      }
      send_error(res, reply.error());
      return;
    }
    for (const auto& [name, value] : reply->headers) res.set_header(name.c_str(), value);
    if (!reply->file.empty()) {
      send_file(res, *reply);
      return;
    }
    res.status = reply->status;
    if (reply->status != 204) res.set_content(reply->body, reply->content_type.c_str());
  }
};

HttpServer::HttpServer(HttpServerConfig config, const Api& api, Authenticator authenticate)
    : impl_(std::make_unique<Impl>(std::move(config), api, std::move(authenticate))) {
  auto& http = impl_->http;
  const auto& cfg = impl_->config;
  const auto threads = static_cast<std::size_t>(std::max(cfg.http_threads, 1));
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_socket_options([this](int sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    impl_->listen_socket = sock;
  });
  http.set_tcp_nodelay(true);  // small JSON answers must not wait for the client's delayed ACK
  http.set_payload_max_length(std::max(cfg.max_upload_bytes, cfg.max_json_bytes));
  http.set_keep_alive_timeout(std::max(cfg.keepalive_timeout_s, 1));
  http.set_read_timeout(60);
  http.set_write_timeout(60);

  // Runs on the request head, before cpp-httplib reads any body: unknown routes, missing credentials and
  // oversized or unbounded (chunked) bodies are refused without buffering anything.
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    auto refuse = [&](const Error& error) {
      send_error(res, error);
      res.set_header("Connection", "close");
      return Server::HandlerResponse::Handled;
    };
    // Requests without a body are admitted once, by dispatch().
    if (!req.has_header("Transfer-Encoding") && !req.has_header("Content-Length")) {
      return Server::HandlerResponse::Unhandled;
    }
    ApiRequest head = request_head(req);
    if (auto route = impl_->admit(head); !route) return refuse(route.error());
    if (req.has_header("Transfer-Encoding")) {
      return refuse({ErrorKind::kLengthRequired,
                     "Send the body with a Content-Length; chunked bodies are not accepted"});
    }
    const auto text = req.get_header_value("Content-Length");
    std::uint64_t length = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, length);
    if (text.empty() || ec != std::errc() || ptr != end ||
        req.get_header_value_count("Content-Length") != 1) {
      return refuse(bad_request("Invalid Content-Length"));
    }
    const auto limit = is_multipart(head) ? impl_->config.max_upload_bytes : impl_->config.max_json_bytes;
    if (length > limit) {
      return refuse({ErrorKind::kPayloadTooLarge, "Request body of " + std::to_string(length) +
                                                      " bytes is larger than the limit of " +
                                                      std::to_string(limit) + " bytes"});
    }
    return Server::HandlerResponse::Unhandled;
  });

  const auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    impl_->dispatch(req, res);
  };
  http.Get(".*", handler);
  http.Post(".*", handler);
  http.Put(".*", handler);
  http.Patch(".*", handler);
  http.Delete(".*", handler);
  http.Options(".*", handler);

  // Errors raised by the HTTP layer itself (malformed requests, 413 from the library) get the JSON body too.
  http.set_error_handler(Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return Server::HandlerResponse::Unhandled;
    const int status = res.status;
    res.set_content(
        nlohmann::json{
            {"message", reason_phrase(status)}, {"statusCode", status}, {"error", reason_phrase(status)}}
            .dump(),
        kJson);
    return Server::HandlerResponse::Handled;
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
    send_error(res, internal_error("Internal server error"));
  });
  http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("{} {} -> {}", req.method, req.path, res.status);
  });
}

HttpServer::~HttpServer() = default;

Expected<int> HttpServer::bind() {
  auto host = impl_->config.host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const int port = impl_->config.port;
  const int bound =
      port == 0 ? impl_->http.bind_to_any_port(host) : (impl_->http.bind_to_port(host, port) ? port : -1);
  if (bound >= 0 && impl_->listen_socket >= 0) ::listen(impl_->listen_socket, SOMAXCONN);
  if (bound < 0) {
    return Error{ErrorKind::kUnavailable, "Cannot listen on " + impl_->config.host + ":" +
                                              std::to_string(port) + " (address in use or not available)"};
  }
  return bound;
}

void HttpServer::serve() { impl_->http.listen_after_bind(); }

void HttpServer::stop() { impl_->http.stop(); }

}  // namespace focal::server
