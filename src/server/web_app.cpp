// SPDX-License-Identifier: AGPL-3.0-or-later
#include "server/web_app.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "server/http_server.h"

namespace focal::server {
namespace {

namespace fs = std::filesystem;

// The UI is a same-origin SPA: scripts, styles and fonts come from the server, images also from blob:/data:
// URLs (thumbnails decoded client-side); nothing may frame it.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; font-src 'self'; "
    "connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'";
constexpr const char* kImmutable = "public, max-age=31536000, immutable";  // Vite's content-hashed files
constexpr const char* kRevalidate = "no-cache";

struct MediaType {
  std::string_view extension;  // lower case, with the dot
  std::string_view type;
  bool compressible;  // text formats: Vite may have written .br/.gz siblings
};

constexpr MediaType kMediaTypes[] = {
    {".html", "text/html; charset=utf-8", true},
    {".js", "text/javascript; charset=utf-8", true},
    {".mjs", "text/javascript; charset=utf-8", true},
    {".css", "text/css; charset=utf-8", true},
    {".svg", "image/svg+xml", true},
    {".png", "image/png", false},
    {".jpg", "image/jpeg", false},
    {".jpeg", "image/jpeg", false},
    {".webp", "image/webp", false},
    {".ico", "image/x-icon", true},
    {".woff2", "font/woff2", false},
    {".woff", "font/woff", false},
    {".json", "application/json", true},
    {".webmanifest", "application/manifest+json", true},
    {".txt", "text/plain; charset=utf-8", true},
    {".map", "application/json", true},
};
constexpr MediaType kOctetStream{"", "application/octet-stream", false};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

const MediaType& media_type(const fs::path& file) {
  const auto extension = lower(file.extension().string());
  for (const auto& media : kMediaTypes) {
    if (media.extension == extension) return media;
  }
  return kOctetStream;
}

void add_security_headers(ApiResponse& response) {
  response.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("X-Frame-Options", "DENY");
}

ApiResponse not_found_reply(std::string_view message) {
  auto response = ApiResponse::json(error_body(404, message), 404);
  add_security_headers(response);
  return response;
}

// A decoded path segment that names an entry of the web root (empty segments are handled by the caller).
// Hidden names are refused too: the build output has none, and a stray .git or .env must not leak.
bool safe_segment(std::string_view segment) {
  if (segment.empty() || segment.front() == '.') return false;  // also "." and ".."
  return segment.find_first_of(std::string_view("\0/\\", 3)) == std::string_view::npos;
}

// The q-value Accept-Encoding gives `coding` (RFC 9110 §12.5.3): its own entry, else `*`'s, else 0. An
// unparsable q counts as 0 (refuse rather than guess).
double accepted_quality(std::string_view header, std::string_view coding) {
  std::optional<double> own;
  std::optional<double> any;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const auto entry = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    const auto semicolon = entry.find(';');
    const auto name = lower(trim(entry.substr(0, semicolon)));
    if (name.empty()) continue;
    double quality = 1.0;
    if (semicolon != std::string_view::npos) {
      const auto param = trim(entry.substr(semicolon + 1));
      if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        const auto value = trim(param.substr(2));
        const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), quality);
        if (ec != std::errc() || ptr != value.data() + value.size() || quality < 0 || quality > 1)
          quality = 0;
      }
    }
    if (name == coding) own = quality;
    if (name == "*") any = quality;
  }
  return own.value_or(any.value_or(0.0));
}

// The canonical path of `candidate` when it is a regular file under `canonical_root` (symlinks resolved, so a
// link pointing out of the root is refused).
std::optional<fs::path> file_inside(const fs::path& canonical_root, const fs::path& candidate) {
  std::error_code ec;
  auto real = fs::canonical(candidate, ec);
  if (ec) return std::nullopt;
  const auto [root_end, real_at] =
      std::mismatch(canonical_root.begin(), canonical_root.end(), real.begin(), real.end());
  if (root_end != canonical_root.end() || real_at == real.end()) return std::nullopt;
  if (!fs::is_regular_file(real, ec) || ec) return std::nullopt;
  return real;
}

// A strong validator from the served variant's size and modification time.
std::optional<std::string> entity_tag(const fs::path& file, std::string_view coding) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return std::nullopt;
  const auto mtime = fs::last_write_time(file, ec);
  if (ec) return std::nullopt;
  char buffer[64];
  const auto ticks = static_cast<std::int64_t>(mtime.time_since_epoch().count());
  auto* end = std::to_chars(buffer, buffer + sizeof buffer, size, 16).ptr;
  *end++ = '-';
  end = std::to_chars(end, buffer + sizeof buffer, ticks, 16).ptr;
  std::string tag = "\"" + std::string(buffer, end);
  if (!coding.empty()) tag += "-" + std::string(coding);
  return tag + "\"";
}

// If-None-Match lists tags (weak ones compare equal too, RFC 9110 §13.1.2) or `*`.
bool matches_entity_tag(std::string_view header, std::string_view tag) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    auto entry = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    if (entry == "*") return true;
    if (entry.starts_with("W/")) entry.remove_prefix(2);
    if (entry == tag) return true;
  }
  return false;
}

std::string not_installed_message(const fs::path& root) {
  return "The web UI is not installed at " + root.string() +
         " (no index.html): set FOCAL_WEB_DIR to a built web app, or build web/ (npm ci && npm run build in "
         "web/)";
}

}  // namespace

bool WebApp::installed() const {
  std::error_code ec;
  return fs::is_regular_file(root_ / "index.html", ec);
}

ApiResponse WebApp::serve(const ApiRequest& request) const {
  const auto cannot_get = [&] {
    return not_found_reply("Cannot " + request.method + " " + request.path.substr(0, 200));
  };
  // Segments are decoded; "/" is one empty segment and a trailing slash leaves an empty last one.
  const auto& segments = request.segments;
  fs::path relative;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const bool last = i + 1 == segments.size();
    if (segments[i].empty() && last) break;
    if (!safe_segment(segments[i])) return cannot_get();
    relative /= segments[i];
  }
  std::error_code ec;
  const auto root = fs::canonical(root_, ec);
  if (ec) return not_found_reply(not_installed_message(root_));

  const bool directory = segments.empty() || segments.back().empty();
  fs::path requested;  // the path as asked for (its siblings are the precompressed variants)
  std::optional<fs::path> file;
  if (!directory) {
    requested = root / relative;
    file = file_inside(root, requested);
  }
  const bool is_route = directory || segments.back().find('.') == std::string::npos;
  if (!file) {
    if (!is_route) return cannot_get();
    // A client-side route (/people/12): the SPA's router takes it from index.html.
    requested = root / "index.html";
    file = file_inside(root, requested);
    if (!file) return not_found_reply(not_installed_message(root_));
  }
  const bool fallback = requested.filename() == "index.html" && requested.parent_path() == root;
  const bool hashed = !fallback && segments.size() > 1 && segments.front() == "assets";
  const auto& media = media_type(*file);

  ApiResponse response = ApiResponse::send_file(*file, std::string(media.type));
  add_security_headers(response);
  response.headers.emplace_back("Cache-Control", hashed ? kImmutable : kRevalidate);
  std::string_view coding;
  if (media.compressible) {
    response.headers.emplace_back("Vary", "Accept-Encoding");
    const auto accept = request.header("accept-encoding").value_or("");
    for (const auto& [name, suffix] : {std::pair{"br", ".br"}, std::pair{"gzip", ".gz"}}) {
      if (accepted_quality(accept, name) <= 0) continue;
      auto variant = requested;
      variant += suffix;
      if (auto found = file_inside(root, variant)) {
        response.file = std::move(*found);
        coding = name;
        break;
      }
    }
  }
  const auto tag = entity_tag(response.file, coding);
  if (tag) {
    response.headers.emplace_back("ETag", *tag);
    if (const auto condition = request.header("if-none-match");
        condition && matches_entity_tag(*condition, *tag)) {
      response.status = 304;
      response.file.clear();
      response.content_type.clear();
      return response;
    }
  }
  if (!coding.empty()) response.headers.emplace_back("Content-Encoding", std::string(coding));
  return response;
}

}  // namespace focal::server
