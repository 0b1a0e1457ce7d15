// Internal to src/hub: one blocking HTTP GET over libcurl (HTTPS, redirects, timeouts), body to memory or to
// a sink. Not a public interface of the component.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace focal::hub_detail {

struct HttpOptions {
  long timeout_s = 10;  // connect timeout; a transfer below 1 byte/s for this long is aborted
  std::string token;    // bearer token, sent to the first host only (curl drops it on cross-host redirects)
  std::string user_agent;
};

struct HttpResult {
  bool transport_ok = false;  // false: no complete HTTP response (connection, TLS, timeout, cut-off body)
  long status = 0;            // of the last response after redirects
  std::string error;          // transport error text
  std::string link_next;      // the rel="next" target of a Link header (tree API pagination), if any
  std::size_t body_bytes = 0;
};

// Receives body bytes; returns false to abort the transfer (e.g. more bytes than announced).
using BodySink = std::function<bool(std::string_view chunk)>;

HttpResult http_get(const std::string& url, const HttpOptions& options, const BodySink& sink);

// Percent-encodes one path segment.
std::string escape_segment(std::string_view segment);

// curl_global_init/cleanup, reference counted by libcurl; held by whoever uses http_get.
class CurlGlobal {
 public:
  CurlGlobal();
  ~CurlGlobal();
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

}  // namespace focal::hub_detail
