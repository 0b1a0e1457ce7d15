// SPDX-License-Identifier: AGPL-3.0-or-later
// The HTTP front's request-head rules (Beast's parser plus focal's limits and framing checks), exactly as
// the server applies them to bytes from a socket.
#include <cstdint>
#include <string_view>

#include "http/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  focal::http::Limits limits;
  limits.max_header_bytes = 4096;
  limits.max_header_count = 32;
  limits.max_target_bytes = 1024;
  const auto parsed =
      focal::http::parse_request_head(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (parsed.head && parsed.rejection) __builtin_trap();
  if (parsed.head) {
    // An accepted head respects every limit and says unambiguously where its body ends.
    if (parsed.head->headers.size() > limits.max_header_count) __builtin_trap();
    if (parsed.head->target.size() > limits.max_target_bytes) __builtin_trap();
    if (parsed.head->chunked && parsed.head->content_length) __builtin_trap();
    if (parsed.head_bytes > size) __builtin_trap();
  }
  return 0;
}
