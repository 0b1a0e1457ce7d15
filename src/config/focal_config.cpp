// SPDX-License-Identifier: AGPL-3.0-or-later
#include "config/focal_config.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "config/ml_config.h"
#include "core/logging.h"

// Set by CMake: the installed web UI relative to the installed binary; the fallback is the GNU layout.
#ifndef FOCAL_WEB_FROM_BINDIR
#define FOCAL_WEB_FROM_BINDIR "../share/focal/web"
#endif

namespace focal {
namespace {

// The web UI next to the running binary: installed (<bindir>/../share/focal/web) or, in a build tree, the
// CMake build's output (<build>/web beside <build>/focal), so `build/release/focal serve` serves it as built.
std::filesystem::path default_web_dir() {
  std::error_code ec;
  const auto exe_dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  if (ec) return std::filesystem::path("/usr/share/focal/web");
  auto installed = (exe_dir / FOCAL_WEB_FROM_BINDIR).lexically_normal();
  auto build_tree = exe_dir / "web";
  if (!std::filesystem::exists(installed / "index.html", ec) &&
      std::filesystem::exists(build_tree / "index.html", ec))
    return build_tree;
  return installed;
}

Expected<std::size_t> parse_size(const std::string& name, const std::string& value) {
  std::uint64_t parsed = 0;
  const auto* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, parsed);
  if (value.empty() || ec != std::errc() || ptr != end || parsed == 0) {
    return unprocessable(name + "=" + nlohmann::json(value).dump() + ": expected a positive number of bytes");
  }
  return static_cast<std::size_t>(parsed);
}

std::filesystem::path default_data_dir(const EnvMap& env) {
  if (auto it = env.find("XDG_DATA_HOME"); it != env.end() && !it->second.empty()) {
    return std::filesystem::path(it->second) / "focal";
  }
  if (auto it = env.find("HOME"); it != env.end() && !it->second.empty()) {
    return std::filesystem::path(it->second) / ".local" / "share" / "focal";
  }
  return std::filesystem::path(".focal");
}

}  // namespace

bool is_postgres_url(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

std::string redacted_database_url(const std::string& url) {
  // postgresql://user:password@host/… → postgresql://user:***@host/…
  const std::size_t scheme = url.find("://");
  const std::size_t at = url.find('@', scheme == std::string::npos ? 0 : scheme + 3);
  const std::size_t colon = url.find(':', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme == std::string::npos || at == std::string::npos || colon == std::string::npos || colon > at) {
    return url;
  }
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::string FocalConfig::database_location() const {
  return database_url.empty() ? database_path().string() : redacted_database_url(database_url);
}

Status FocalConfig::validate() const {
  if (data_dir.empty()) return unprocessable("FOCAL_DATA_DIR must not be empty");
  if (host.empty()) return unprocessable("FOCAL_HOST must not be empty");
  if (port < 0 || port > 65535) return unprocessable("FOCAL_PORT must be between 0 and 65535");
  if (http_threads < 1 || http_threads > 1024)
    return unprocessable("FOCAL_HTTP_THREADS must be between 1 and 1024");
  if (keepalive_timeout_s < 1 || keepalive_timeout_s > 3600)
    return unprocessable("FOCAL_KEEPALIVE_TIMEOUT_S must be between 1 and 3600");
  if (db_readers < 1 || db_readers > 64) return unprocessable("FOCAL_DB_READERS must be between 1 and 64");
  if (index_sync_ms < 0) return unprocessable("FOCAL_INDEX_SYNC_MS must not be negative");
  if (vector_index != "memory" && vector_index != "pgvector")
    return unprocessable("FOCAL_VECTOR_INDEX must be memory or pgvector, not '" + vector_index + "'");
  if (vector_index == "pgvector" && database_url.empty())
    return unprocessable("FOCAL_VECTOR_INDEX=pgvector needs a PostgreSQL library (FOCAL_DATABASE_URL)");
  if (!database_url.empty() && !is_postgres_url(database_url)) {
    return unprocessable(
        "FOCAL_DATABASE_URL must be a postgresql:// URL (unset it for the embedded SQLite database)");
  }
  if (max_upload_bytes < 1024) return unprocessable("FOCAL_MAX_UPLOAD_BYTES must be at least 1024");
  if (max_json_bytes < 1024) return unprocessable("FOCAL_MAX_JSON_BYTES must be at least 1024");
  if (job_lease_ms < 1000) return unprocessable("FOCAL_JOB_LEASE_MS must be at least 1000");
  if (job_retry_initial_ms < 100) return unprocessable("FOCAL_JOB_RETRY_INITIAL_MS must be at least 100");
  if (job_retry_max_ms < job_retry_initial_ms) {
    return unprocessable("FOCAL_JOB_RETRY_MAX_MS must be at least FOCAL_JOB_RETRY_INITIAL_MS");
  }
  if (!parse_log_level(log_level)) return unprocessable("FOCAL_LOG_LEVEL: unknown level '" + log_level + "'");
  return {};
}

std::string FocalConfig::to_json() const {
  return nlohmann::json{{"FOCAL_DATA_DIR", data_dir.string()},
                        {"FOCAL_HOST", host},
                        {"FOCAL_PORT", port},
                        {"FOCAL_HTTP_THREADS", http_threads},
                        {"FOCAL_KEEPALIVE_TIMEOUT_S", keepalive_timeout_s},
                        {"FOCAL_TRUST_PROXY", trust_proxy},
                        {"FOCAL_HEADER_TIMEOUT_S", http.header_timeout_s},
                        {"FOCAL_BODY_TIMEOUT_S", http.body_timeout_s},
                        {"FOCAL_MAX_CONNECTIONS", http.max_connections},
                        {"FOCAL_TLS_CERT_FILE", http.tls_cert_file},
                        {"FOCAL_TLS_KEY_FILE", http.tls_key_file},
                        {"FOCAL_ACCESS_LOG", http.access_log},
                        {"FOCAL_MAX_UPLOAD_BYTES", max_upload_bytes},
                        {"FOCAL_MAX_JSON_BYTES", max_json_bytes},
                        {"FOCAL_DATABASE_URL", database_url.empty() ? "" : database_location()},
                        {"FOCAL_DB_READERS", db_readers},
                        {"FOCAL_INDEX_SYNC_MS", index_sync_ms},
                        {"FOCAL_VECTOR_INDEX", vector_index},
                        {"FOCAL_WORKERS", workers},
                        {"FOCAL_JOB_LEASE_MS", job_lease_ms},
                        {"FOCAL_JOB_RETRY_INITIAL_MS", job_retry_initial_ms},
                        {"FOCAL_JOB_RETRY_MAX_MS", job_retry_max_ms},
                        {"FOCAL_WEB_DIR", web_dir.string()},
                        {"FOCAL_LOG_LEVEL", log_level},
                        {"NO_COLOR", no_color}}
      .dump(2);
}

Expected<FocalConfig> parse_focal_config(const EnvMap& env) {
  FocalConfig cfg;
  auto get = [&](const char* name) -> const std::string* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : &it->second;
  };
  cfg.data_dir = default_data_dir(env);
  if (const auto* v = get("FOCAL_DATA_DIR"); v && !v->empty()) cfg.data_dir = *v;
  if (const auto* v = get("FOCAL_HOST")) {
    cfg.host = *v;
    if (cfg.host.size() >= 2 && cfg.host.front() == '[' && cfg.host.back() == ']') {
      cfg.host = cfg.host.substr(1, cfg.host.size() - 2);
    }
  }
  auto int_var = [&](const char* name, int& into) -> Status {
    if (const auto* v = get(name)) {
      auto parsed = parse_int(name, *v);
      if (!parsed) return parsed.error();
      into = *parsed;
    }
    return {};
  };
  auto size_var = [&](const char* name, std::size_t& into) -> Status {
    if (const auto* v = get(name)) {
      auto parsed = parse_size(name, *v);
      if (!parsed) return parsed.error();
      into = *parsed;
    }
    return {};
  };
  if (auto st = int_var("FOCAL_PORT", cfg.port); !st) return st.error();
  if (auto st = int_var("FOCAL_HTTP_THREADS", cfg.http_threads); !st) return st.error();
  if (auto st = int_var("FOCAL_KEEPALIVE_TIMEOUT_S", cfg.keepalive_timeout_s); !st) return st.error();
  if (auto st = parse_http_front(env, "FOCAL_", cfg.http); !st) return st.error();
  if (const auto* v = get("FOCAL_TRUST_PROXY")) {
    auto parsed = parse_bool("FOCAL_TRUST_PROXY", *v);
    if (!parsed) return parsed.error();
    cfg.trust_proxy = *parsed;
  }
  if (auto st = int_var("FOCAL_DB_READERS", cfg.db_readers); !st) return st.error();
  if (const auto* v = get("FOCAL_DATABASE_URL")) cfg.database_url = *v;
  if (auto st = int_var("FOCAL_INDEX_SYNC_MS", cfg.index_sync_ms); !st) return st.error();
  if (const auto* v = get("FOCAL_VECTOR_INDEX"); v && !v->empty()) cfg.vector_index = *v;
  if (auto st = int_var("FOCAL_JOB_LEASE_MS", cfg.job_lease_ms); !st) return st.error();
  if (auto st = int_var("FOCAL_JOB_RETRY_INITIAL_MS", cfg.job_retry_initial_ms); !st) return st.error();
  if (auto st = int_var("FOCAL_JOB_RETRY_MAX_MS", cfg.job_retry_max_ms); !st) return st.error();
  if (auto st = size_var("FOCAL_MAX_UPLOAD_BYTES", cfg.max_upload_bytes); !st) return st.error();
  if (auto st = size_var("FOCAL_MAX_JSON_BYTES", cfg.max_json_bytes); !st) return st.error();
  if (const auto* v = get("FOCAL_WORKERS")) {
    auto parsed = parse_bool("FOCAL_WORKERS", *v);
    if (!parsed) return parsed.error();
    cfg.workers = *parsed;
  }
  cfg.web_dir = default_web_dir();
  if (const auto* v = get("FOCAL_WEB_DIR"); v && !v->empty()) cfg.web_dir = *v;
  if (const auto* v = get("FOCAL_LOG_LEVEL"); v && !v->empty()) cfg.log_level = *v;
  if (const auto* v = get("NO_COLOR")) cfg.no_color = !v->empty();
  if (auto st = cfg.validate(); !st) return st.error();
  return cfg;
}

}  // namespace focal
