#include "hub/http_client.h"

#include <curl/curl.h>

#include <cctype>
#include <memory>

namespace focal::hub_detail {
namespace {

struct Transfer {
  const BodySink* sink = nullptr;
  HttpResult* result = nullptr;
  bool sink_refused = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (!(*t->sink)(std::string_view(data, n))) {
    t->sink_refused = true;
    return 0;  // makes curl abort with CURLE_WRITE_ERROR
  }
  t->result->body_bytes += n;
  return n;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Link: <https://…?cursor=…>; rel="next"
std::string parse_link_next(std::string_view value) {
  std::size_t pos = 0;
  while (pos < value.size()) {
    const auto open = value.find('<', pos);
    if (open == std::string_view::npos) break;
    const auto close = value.find('>', open);
    if (close == std::string_view::npos) break;
    const auto end = value.find(',', close);
    const auto params = lower(value.substr(close + 1, end == std::string_view::npos ? end : end - close - 1));
    if (params.find("rel=\"next\"") != std::string::npos || params.find("rel=next") != std::string::npos) {
      return std::string(value.substr(open + 1, close - open - 1));
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return {};
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) t->result->link_next.clear();  // a new response (after a redirect)
  const auto colon = line.find(':');
  if (colon != std::string_view::npos && lower(line.substr(0, colon)) == "link") {
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.remove_suffix(1);
    t->result->link_next = parse_link_next(value);
  }
  return size * count;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

CurlGlobal::CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
CurlGlobal::~CurlGlobal() { curl_global_cleanup(); }

HttpResult http_get(const std::string& url, const HttpOptions& options, const BodySink& sink) {
  HttpResult result;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    result.error = "curl_easy_init failed";
    return result;
  }
  Transfer transfer{&sink, &result};
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  if (!options.token.empty()) {
    headers.reset(curl_slist_append(nullptr, ("Authorization: Bearer " + options.token).c_str()));
  }
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // many threads; no SIGALRM-based DNS timeouts
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, options.timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, options.timeout_s);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // identity or compressed; sizes count decoded bytes
  if (!options.user_agent.empty()) curl_easy_setopt(c, CURLOPT_USERAGENT, options.user_agent.c_str());
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);

  const CURLcode code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
  if (code == CURLE_OK) {
    result.transport_ok = true;
  } else if (transfer.sink_refused) {
    result.error = "the body was refused (more bytes than the hub announced, or a local write error)";
  } else {
    result.error = error_buffer[0] != 0 ? error_buffer : curl_easy_strerror(code);
  }
  return result;
}

std::string escape_segment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : segment) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace focal::hub_detail
