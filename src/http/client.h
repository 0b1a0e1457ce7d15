// SPDX-License-Identifier: AGPL-3.0-or-later
// Blocking HTTP(S) client over libcurl for everything focal sends: model downloads from the hub (streamed to
// a sink) and ML requests (multipart/form-data, like Immich's server sends them). Connections are reused
// across calls; a Client is thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace focal::http {

// One multipart/form-data part of a request. `data` must stay valid for the call.
struct ClientPart {
  std::string name;
  std::string_view data;
  std::string filename;      // set: sent as a file part
  std::string content_type;  // for file parts
};

struct ClientRequest {
  std::string method;  // empty: POST when there is a form or a body, GET otherwise
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. {"x-api-key", key}
  std::vector<ClientPart> form;                              // non-empty: multipart/form-data body
  std::string body;  // otherwise this body (with a Content-Type header of your own)
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds timeout{0};    // the whole transfer; 0: none
  std::chrono::seconds low_speed_time{0};  // abort when below 1 byte/s for this long; 0: off
  bool follow_redirects = false;           // Authorization headers are not sent to other hosts
  std::string user_agent;
  std::string ca_file;      // HTTPS: trust this PEM bundle instead of the system's
  bool verify_host = true;  // HTTPS: check the certificate's name against the URL's host
};

struct ClientResult {
  bool transport_ok = false;  // false: no complete HTTP response (connection, TLS, timeout, cut-off body)
  long status = 0;            // of the last response after redirects
  std::string error;          // transport error text
  std::multimap<std::string, std::string> headers;  // of the last response, lower-case names
  std::size_t body_bytes = 0;
};

// Receives body bytes; returns false to abort the transfer (too large, local write error).
using BodySink = std::function<bool(std::string_view chunk)>;

class Client {
 public:
  Client();
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  ClientResult perform(const ClientRequest& request, const BodySink& sink);
  // The body into `body`, refused (transport error) beyond `max_body_bytes`.
  ClientResult perform(const ClientRequest& request, std::string& body, std::size_t max_body_bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes one path segment (RFC 3986 unreserved characters stay).
std::string escape_segment(std::string_view segment);

}  // namespace focal::http
