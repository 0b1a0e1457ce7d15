// SPDX-License-Identifier: AGPL-3.0-or-later
// Requests and responses as the HTTP front (http/server.h) hands them to a server's routes: parsed, decoded
// and bounded, with no trace of the socket library.
#pragma once

#include <any>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace focal::http {

// Everything known once the request head has been read (the body is not read yet).
struct RequestHead {
  std::string method;                               // as sent, e.g. "GET"
  std::string target;                               // raw request-target, e.g. "/api/assets?size=10"
  std::string path;                                 // percent-decoded path (for routes and logs)
  std::vector<std::string> segments;                // the path split on '/' before decoding, then decoded
  std::multimap<std::string, std::string> query;    // decoded, '+' as space
  std::multimap<std::string, std::string> headers;  // lower-case names, values as sent
  std::string remote_address;                       // the peer's IP address
  bool tls = false;                                 // the connection is TLS
  std::optional<std::uint64_t> content_length;      // absent when chunked or no body
  bool chunked = false;                             // Transfer-Encoding: chunked
  // What a service decided about the request before its body was read (matched route, caller); set by
  // Service::admit and read back by Service::handle.
  std::any context;

  // The first value of a header (name in lower case).
  std::optional<std::string_view> header(std::string_view lower_case_name) const;
  std::optional<std::string_view> query_value(std::string_view name) const;
  bool has_body() const { return chunked || content_length.value_or(0) > 0; }
};

struct Request : RequestHead {
  std::string body;  // the decoded body (chunked framing removed)
};

struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
  std::filesystem::path file;  // when set, the file's bytes are streamed as the body instead of `body`
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // close the connection after this response

  static Response text(int status, std::string body, std::string content_type);
};

// "Not Found" for 404 etc.; "Unknown" when the status has no standard phrase.
std::string_view reason_phrase(int status);

}  // namespace focal::http
