// SPDX-License-Identifier: AGPL-3.0-or-later
#include "http/multipart.h"

#include "http/form.h"

namespace focal::http {
namespace {

constexpr std::size_t kMaxBoundary = 70;  // RFC 2046 §5.1.1

Error malformed(const std::string& why) { return bad_request("Malformed multipart/form-data body: " + why); }

// Skips the rest of a delimiter line: optional transport padding, then CRLF (or LF). npos when the line has
// anything else on it.
std::size_t end_of_delimiter_line(std::string_view body, std::size_t pos) {
  while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
  if (body.substr(pos, 2) == "\r\n") return pos + 2;
  if (body.substr(pos, 1) == "\n") return pos + 1;
  return std::string_view::npos;
}

Status parse_part_headers(std::string_view block, FormPart& part) {
  bool seen_disposition = false;
  std::size_t pos = 0;
  while (pos < block.size()) {
    auto end = block.find('\n', pos);
    if (end == std::string_view::npos) end = block.size();
    auto line = block.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    if (line.empty()) continue;
    if (line.front() == ' ' || line.front() == '\t') return malformed("folded part header");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return malformed("part header without a name");
    const auto name = lower_ascii(line.substr(0, colon));
    const auto value = trim_blanks(line.substr(colon + 1));
    if (name == "content-disposition") {
      if (seen_disposition) return malformed("two Content-Disposition headers in one part");
      seen_disposition = true;
      const auto semicolon = value.find(';');
      if (lower_ascii(trim_blanks(value.substr(0, semicolon))) != "form-data") {
        return malformed("part disposition is not form-data");
      }
      auto params = parse_parameters(semicolon == std::string_view::npos ? "" : value.substr(semicolon + 1));
      if (!params) return malformed("invalid Content-Disposition parameters");
      auto found = params->find("name");
      if (found == params->end()) return malformed("part without a name");
      part.name = found->second;
      if (auto file = params->find("filename"); file != params->end()) {
        part.filename = file->second;
        part.is_file = true;
      } else if (params->count("filename*") != 0) {
        part.is_file = true;  // RFC 5987 names are not decoded; the part is still a file
      }
    } else if (name == "content-type") {
      part.content_type = std::string(value);
    }
  }
  if (!seen_disposition) return malformed("part without Content-Disposition");
  return {};
}

}  // namespace

Expected<std::string> multipart_boundary(std::string_view content_type) {
  const auto media = parse_media_type(content_type);
  if (!media || media->type != "multipart/form-data") {
    return unprocessable("Content-Type must be multipart/form-data, got '" +
                         std::string(content_type.substr(0, 100)) + "'");
  }
  const auto found = media->params.find("boundary");
  if (found == media->params.end() || found->second.empty()) {
    return unprocessable("multipart/form-data Content-Type without a boundary");
  }
  if (found->second.size() > kMaxBoundary) {
    return unprocessable("multipart boundary is longer than " + std::to_string(kMaxBoundary) + " characters");
  }
  return found->second;
}

Expected<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary,
                                                const MultipartLimits& limits) {
  if (boundary.empty() || boundary.size() > kMaxBoundary) return malformed("invalid boundary");
  const std::string delimiter = "--" + std::string(boundary);
  const std::string line_delimiter = "\n" + delimiter;  // a delimiter always starts a line

  // The first delimiter: at the very start, or at the start of a line after a preamble.
  std::size_t pos = 0;
  if (body.substr(0, delimiter.size()) != delimiter) {
    pos = body.find(line_delimiter);
    if (pos == std::string_view::npos) return malformed("no boundary delimiter");
    pos += 1;
  }
  std::vector<FormPart> parts;
  while (true) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return parts;  // close delimiter; the epilogue is ignored
    pos = end_of_delimiter_line(body, pos);
    if (pos == std::string_view::npos) return malformed("garbage after a boundary delimiter");
    if (parts.size() == limits.max_parts) {
      return malformed("more than " + std::to_string(limits.max_parts) + " parts");
    }

    // Headers end at the first empty line.
    std::size_t headers_end = std::string_view::npos;
    std::size_t content_start = std::string_view::npos;
    if (body.substr(pos, 2) == "\r\n") {
      headers_end = pos;
      content_start = pos + 2;
    } else if (body.substr(pos, 1) == "\n") {
      headers_end = pos;
      content_start = pos + 1;
    } else {
      const auto window = body.substr(pos, limits.max_part_header_bytes + 4);
      const auto crlf = window.find("\r\n\r\n");
      const auto lf = window.find("\n\n");
      if (crlf != std::string_view::npos && (lf == std::string_view::npos || crlf + 1 <= lf)) {
        headers_end = pos + crlf;
        content_start = headers_end + 4;
      } else if (lf != std::string_view::npos) {
        headers_end = pos + lf;
        content_start = headers_end + 2;
      }
    }
    if (headers_end == std::string_view::npos || headers_end - pos > limits.max_part_header_bytes) {
      return malformed(body.size() - pos > limits.max_part_header_bytes ? "part headers too large"
                                                                        : "truncated part headers");
    }
    FormPart part;
    if (auto status = parse_part_headers(body.substr(pos, headers_end - pos), part); !status)
      return status.error();

    // The content runs to the next delimiter; the line break before it belongs to the delimiter. A boundary
    // string followed by anything but "--" or the end of the line is data (as python-multipart reads it).
    auto next = body.find(line_delimiter, content_start - 1);
    while (next != std::string_view::npos) {
      const auto after = next + line_delimiter.size();
      if (body.substr(after, 2) == "--" || end_of_delimiter_line(body, after) != std::string_view::npos)
        break;
      next = body.find(line_delimiter, next + 1);
    }
    if (next == std::string_view::npos) return malformed("truncated body (no closing boundary)");
    auto content_end = next;
    if (content_end > content_start && body[content_end - 1] == '\r') --content_end;
    part.content = content_end > content_start ? body.substr(content_start, content_end - content_start)
                                               : std::string_view();
    parts.push_back(std::move(part));
    pos = next + 1;
  }
}

const FormPart* find_part(const std::vector<FormPart>& parts, std::string_view name) {
  for (const auto& part : parts) {
    if (part.name == name) return &part;
  }
  return nullptr;
}

}  // namespace focal::http
