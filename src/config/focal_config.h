// SPDX-License-Identifier: AGPL-3.0-or-later
// The `focal` library server's process configuration: FOCAL_* environment variables, parsed once at start-up
// (docs/configuration.md, "focal library server"). Everything users change at run time (ML URLs, models,
// concurrency) is the stored system config (settings/settings.h), not this.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "config/env.h"
#include "config/http_front.h"
#include "core/error.h"

namespace focal {

struct FocalConfig {
  std::filesystem::path data_dir;  // FOCAL_DATA_DIR; default $XDG_DATA_HOME/focal or ~/.local/share/focal
  std::string host = "127.0.0.1";  // FOCAL_HOST; loopback by default, set 0.0.0.0 / [::] to expose it
  int port = 2283;                 // FOCAL_PORT (Immich's port); 0 picks a free port
  int http_threads = 16;           // FOCAL_HTTP_THREADS: request handlers run at once
  int keepalive_timeout_s = 5;  // FOCAL_KEEPALIVE_TIMEOUT_S: idle kept-alive connections are closed after it
  bool trust_proxy = false;     // FOCAL_TRUST_PROXY: client address/scheme from X-Forwarded-For/-Proto
  HttpFrontConfig http;  // FOCAL_HEADER_TIMEOUT_S, _BODY_TIMEOUT_S, _MAX_CONNECTIONS, _TLS_*, _ACCESS_LOG
  std::size_t max_upload_bytes = std::size_t{512} << 20;  // FOCAL_MAX_UPLOAD_BYTES (multipart uploads)
  std::size_t max_json_bytes = std::size_t{1} << 20;      // FOCAL_MAX_JSON_BYTES (every other request body)
  // FOCAL_DATABASE_URL: postgresql://user:password@host:port/database[?…] keeps the library in that
  // PostgreSQL database (several focal processes may share it); unset, the embedded SQLite database in
  // data_dir. Previews and index files stay in data_dir either way.
  std::string database_url;
  int db_readers = 4;  // FOCAL_DB_READERS: pooled reader connections (SQLite or PostgreSQL)
  // FOCAL_INDEX_SYNC_MS: with FOCAL_DATABASE_URL, how often the in-memory smart-search index takes in the
  // embeddings other processes wrote or deleted; 0: never.
  int index_sync_ms = 10'000;
  // FOCAL_VECTOR_INDEX: where smart search's and face recognition's vectors are searched. "memory" (default): an index in each
  // process's memory, rebuilt or read from its saved file at start-up; "pgvector": in the PostgreSQL library
  // by the pgvector extension (0.8.0 or later), one index for every process (needs FOCAL_DATABASE_URL).
  std::string vector_index = "memory";
  bool workers = true;  // FOCAL_WORKERS: `focal serve` runs the job workers (false: API only)
  // FOCAL_JOB_LEASE_MS: a running job's lease; a killed process's jobs return to their queue after it. The
  // heartbeat renews leases every lease/4.
  int job_lease_ms = 60'000;
  int job_retry_initial_ms = 5'000;  // FOCAL_JOB_RETRY_INITIAL_MS: first retry delay after an ML outage
  int job_retry_max_ms = 600'000;    // FOCAL_JOB_RETRY_MAX_MS: retry delays double up to this
  // FOCAL_WEB_DIR: the built web UI (web/'s Vite output) that `focal serve` serves outside /api/; default
  // <bindir>/../share/focal/web beside the binary, or <build>/web when run from a build tree.
  std::filesystem::path web_dir;
  std::string log_level = "info";  // FOCAL_LOG_LEVEL: debug|info|warning|error
  bool no_color = false;           // NO_COLOR

  std::filesystem::path database_path() const { return data_dir / "focal.db"; }
  // Where the library lives, for messages: the SQLite file, or the PostgreSQL URL without its password.
  std::string database_location() const;

  Status validate() const;
  // Effective configuration as pretty JSON (`focal config env`).
  std::string to_json() const;
};

// A PostgreSQL connection URI (postgresql:// or postgres://), as FOCAL_DATABASE_URL takes.
bool is_postgres_url(std::string_view url);
// `url` without its password, for messages and logs.
std::string redacted_database_url(const std::string& url);

// Parses FOCAL_* from an environment snapshot and validates; errors name the variable.
Expected<FocalConfig> parse_focal_config(const EnvMap& env);

}  // namespace focal
