// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal to src/http: the checks every request head passes after Beast parsed it (shared by the server and
// parse_request_head, so the fuzzer exercises exactly what the server runs).
#pragma once

#include <boost/beast/http.hpp>
#include <optional>
#include <string>

#include "http/form.h"
#include "http/request_parser.h"

namespace focal::http::detail {

// Fills `head` from a parsed head; a rejection (status and message) when the head breaks a limit or is
// ambiguous about where its body ends.
template <class Parser>
std::optional<HeadRejection> build_head(const Parser& parser, const Limits& limits, RequestHead& head) {
  const auto& message = parser.get();
  head.method = std::string(message.method_string());
  head.target = std::string(message.target());
  std::size_t count = 0;
  std::size_t content_length_fields = 0;
  for (const auto& field : message) {
    ++count;
    auto name = lower_ascii(field.name_string());
    if (name == "content-length") ++content_length_fields;
    head.headers.emplace(std::move(name), std::string(field.value()));
  }
  if (count > limits.max_header_count) {
    return HeadRejection{431, "More than " + std::to_string(limits.max_header_count) + " header fields"};
  }
  if (head.target.size() > limits.max_target_bytes) {
    return HeadRejection{414,
                         "Request target longer than " + std::to_string(limits.max_target_bytes) + " bytes"};
  }
  if (message.version() == 11 && head.headers.count("host") == 0)
    return HeadRejection{400, "Missing Host header"};
  if (content_length_fields > 1 || (content_length_fields == 1 && parser.chunked())) {
    return HeadRejection{400, "Ambiguous message length (several Content-Length, or with Transfer-Encoding)"};
  }
  // A transfer coding other than chunked would leave the body's end unknown (and its bytes taken for the next
  // request): refused, as RFC 9112 §6.1 asks.
  if (!parser.chunked() && head.headers.count("transfer-encoding") != 0) {
    return HeadRejection{501, "Transfer-Encoding other than chunked is not supported"};
  }
  auto target = parse_target(head.target);
  if (!target) return HeadRejection{400, target.error().message};
  head.path = std::move(target->path);
  head.segments = std::move(target->segments);
  head.query = std::move(target->query);
  head.chunked = parser.chunked();
  if (const auto length = parser.content_length()) head.content_length = *length;
  return std::nullopt;
}

}  // namespace focal::http::detail
