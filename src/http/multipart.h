// SPDX-License-Identifier: AGPL-3.0-or-later
// multipart/form-data bodies (RFC 7578 over RFC 2046), parsed without copying: parts point into the body.
//
// Strict where leniency would let two parsers disagree about a body (a truncated body, a part without a
// name, a missing closing delimiter are errors), lenient where every client differs (preamble, epilogue,
// LF-only line ends in part headers, header name case).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace focal::http {

struct FormPart {
  std::string name;          // Content-Disposition name (required)
  std::string filename;      // Content-Disposition filename, "" when absent (a text field)
  std::string content_type;  // the part's Content-Type, "" when absent
  std::string_view content;  // points into the parsed body
  bool is_file = false;      // a filename parameter was present (even an empty one)
};

struct MultipartLimits {
  std::size_t max_parts = 64;
  std::size_t max_part_header_bytes = 8 * 1024;
};

// The boundary parameter of a multipart/form-data Content-Type (media type case-insensitive); 422 naming the
// problem when the type is another one or the boundary is missing or longer than 70 characters.
Expected<std::string> multipart_boundary(std::string_view content_type);

// Parses `body` into parts in order (quoted-string escapes removed from names and filenames); 400 naming the
// problem for malformed bodies. The parts' contents point into `body`.
Expected<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary,
                                                const MultipartLimits& limits = {});

// The first part with this name, or nullptr.
const FormPart* find_part(const std::vector<FormPart>& parts, std::string_view name);

}  // namespace focal::http
