// SPDX-License-Identifier: AGPL-3.0-or-later
#include "config/http_front.h"

#include <filesystem>

#include "config/ml_config.h"

namespace focal {

Status parse_http_front(const EnvMap& env, std::string_view prefix, HttpFrontConfig& out) {
  const auto name = [&](std::string_view suffix) { return std::string(prefix) + std::string(suffix); };
  const auto positive = [&](std::string_view suffix, int& into, int max) -> Status {
    const auto var = name(suffix);
    const auto found = env.find(var);
    if (found == env.end()) return {};
    auto parsed = parse_int(var, found->second);
    if (!parsed) return parsed.error();
    if (*parsed < 1 || *parsed > max) {
      return unprocessable(var + "=\"" + found->second + "\": must be between 1 and " + std::to_string(max));
    }
    into = *parsed;
    return {};
  };
  if (auto st = positive("HEADER_TIMEOUT_S", out.header_timeout_s, 3600); !st) return st;
  if (auto st = positive("BODY_TIMEOUT_S", out.body_timeout_s, 86400); !st) return st;
  if (auto st = positive("MAX_CONNECTIONS", out.max_connections, 1'000'000); !st) return st;
  if (const auto found = env.find(name("ACCESS_LOG")); found != env.end()) {
    auto parsed = parse_bool(found->first, found->second);
    if (!parsed) return parsed.error();
    out.access_log = *parsed;
  }
  if (const auto found = env.find(name("TLS_CERT_FILE")); found != env.end())
    out.tls_cert_file = found->second;
  if (const auto found = env.find(name("TLS_KEY_FILE")); found != env.end()) out.tls_key_file = found->second;
  if (out.tls_cert_file.empty() != out.tls_key_file.empty()) {
    return unprocessable(name("TLS_CERT_FILE") + " and " + name("TLS_KEY_FILE") + " must be set together");
  }
  for (const auto& [var, path] : {std::pair{name("TLS_CERT_FILE"), out.tls_cert_file},
                                  std::pair{name("TLS_KEY_FILE"), out.tls_key_file}}) {
    std::error_code ec;
    if (!path.empty() && !std::filesystem::is_regular_file(path, ec)) {
      return unprocessable(var + "=\"" + path + "\": not a readable file");
    }
  }
  return {};
}

}  // namespace focal
