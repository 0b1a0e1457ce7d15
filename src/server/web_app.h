// SPDX-License-Identifier: AGPL-3.0-or-later
// The web UI's static files (web/, built by Vite), served by `focal serve` on the API's port for GET/HEAD
// requests outside /api/ that no route answers (docs/configuration.md, FOCAL_WEB_DIR).
//
// Paths are resolved inside the web root only: decoded segments that are `..`, `.`, hidden, empty (inside
// the path), or contain NUL, `/` or `\` are refused, and the canonical file (symlinks followed) must lie
// under the canonical root. A path whose last segment has no dot is a client-side route and gets index.html.
// Vite's hashed files under /assets/ are cached for a year, everything else is revalidated (ETag). A `.br`
// or `.gz` sibling is served when the client accepts that coding. Every answer carries the UI's security
// headers (a strict Content-Security-Policy: the UI loads nothing from other origins).
#pragma once

#include <filesystem>

#include "server/api.h"

namespace focal::server {

class WebApp {
 public:
  explicit WebApp(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }
  // Whether <root>/index.html exists. Checked on every request, so a UI built after start-up is served
  // without a restart.
  bool installed() const;
  // The answer to a GET or HEAD request (never an Error: refusals are 404 JSON bodies with the headers).
  ApiResponse serve(const ApiRequest& request) const;

 private:
  std::filesystem::path root_;
};

}  // namespace focal::server
