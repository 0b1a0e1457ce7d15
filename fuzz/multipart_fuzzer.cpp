// SPDX-License-Identifier: AGPL-3.0-or-later
// multipart/form-data and the other request-text parsers (media types, parameters, urlencoded forms,
// request targets, cookies). Input: "<content-type>\n<body>".
#include <cstdint>
#include <string_view>

#include "http/form.h"
#include "http/multipart.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const auto type = input.substr(0, newline);
  const auto body = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  if (auto boundary = focal::http::multipart_boundary(type)) {
    if (auto parts = focal::http::parse_multipart(body, *boundary)) {
      for (const auto& part : *parts) {
        // Every part must lie inside the body.
        if (!part.content.empty() && (part.content.data() < body.data() ||
                                      part.content.data() + part.content.size() > body.data() + body.size()))
          __builtin_trap();
      }
    }
  }
  (void)focal::http::parse_media_type(type);
  (void)focal::http::parse_urlencoded(body);
  (void)focal::http::parse_target(type);
  (void)focal::http::cookie_value(body, "immich_access_token");
  return 0;
}
