// SPDX-License-Identifier: AGPL-3.0-or-later
// Settings of the HTTP front that both servers share, read from <PREFIX>* variables (FOCAL_ML_ for focal-ml,
// FOCAL_ for focal serve): timeouts against slow clients, the connection limit, optional TLS, access logs.
#pragma once

#include <string>
#include <string_view>

#include "config/env.h"
#include "core/error.h"

namespace focal {

struct HttpFrontConfig {
  int header_timeout_s = 10;   // <P>HEADER_TIMEOUT_S: a request head must arrive within this
  int body_timeout_s = 30;     // <P>BODY_TIMEOUT_S: plus 1 s per 64 KiB announced, for the body
  int max_connections = 4096;  // <P>MAX_CONNECTIONS: beyond it the longest-waiting idle one is dropped
  std::string tls_cert_file;   // <P>TLS_CERT_FILE: PEM chain; with <P>TLS_KEY_FILE serves HTTPS
  std::string tls_key_file;    // <P>TLS_KEY_FILE
  bool access_log = false;     // <P>ACCESS_LOG: one info line per request
};

// Reads the <prefix>* variables above into `out` (defaults stay for unset ones); errors name the variable.
Status parse_http_front(const EnvMap& env, std::string_view prefix, HttpFrontConfig& out);

}  // namespace focal
