// SPDX-License-Identifier: AGPL-3.0-or-later
#include "http/client.h"

#include <curl/curl.h>

#include <cctype>
#include <mutex>

#include "http/form.h"

namespace focal::http {
namespace {

struct Transfer {
  const BodySink* sink = nullptr;
  ClientResult* result = nullptr;
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

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) t->result->headers.clear();  // a new response (redirect, 100 Continue)
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    t->result->headers.emplace(lower_ascii(line.substr(0, colon)), std::string(value));
  }
  return size * count;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct MimeDeleter {
  void operator()(curl_mime* m) const { curl_mime_free(m); }
};

}  // namespace

// Easy handles are pooled so that their connection caches (keep-alive) survive between calls.
struct Client::Impl {
  std::mutex mutex;
  std::vector<CURL*> idle;

  CURL* take() {
    {
      const std::lock_guard lock(mutex);
      if (!idle.empty()) {
        CURL* handle = idle.back();
        idle.pop_back();
        curl_easy_reset(handle);  // options go, connections stay
        return handle;
      }
    }
    return curl_easy_init();
  }
  void give_back(CURL* handle) {
    const std::lock_guard lock(mutex);
    idle.push_back(handle);
  }
};

Client::Client() : impl_(std::make_unique<Impl>()) {
  curl_global_init(CURL_GLOBAL_DEFAULT);  // reference counted and thread-safe in libcurl >= 7.84
}

Client::~Client() {
  for (CURL* handle : impl_->idle) curl_easy_cleanup(handle);
  curl_global_cleanup();
}

ClientResult Client::perform(const ClientRequest& request, const BodySink& sink) {
  ClientResult result;
  CURL* c = impl_->take();
  if (c == nullptr) {
    result.error = "curl_easy_init failed";
    return result;
  }
  Transfer transfer{&sink, &result};
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const auto& [name, value] : request.headers) {
    headers.reset(curl_slist_append(headers.release(), (name + ": " + value).c_str()));
  }
  // libcurl asks for 100 Continue before large bodies; the servers focal talks to answer at once.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  std::unique_ptr<curl_mime, MimeDeleter> mime;
  if (!request.form.empty()) {
    mime.reset(curl_mime_init(c));
    for (const auto& part : request.form) {
      curl_mimepart* field = curl_mime_addpart(mime.get());
      curl_mime_name(field, part.name.c_str());
      curl_mime_data(field, part.data.data(), part.data.size());
      if (!part.filename.empty()) curl_mime_filename(field, part.filename.c_str());
      if (!part.content_type.empty()) curl_mime_type(field, part.content_type.c_str());
    }
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime.get());
  } else if (!request.body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  if (!request.method.empty()) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // many threads; no SIGALRM-based DNS timeouts
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  if (request.follow_redirects) {
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  }
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  if (request.timeout.count() > 0)
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  if (request.low_speed_time.count() > 0) {
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(request.low_speed_time.count()));
  }
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // identity or compressed; sinks see decoded bytes
  if (!request.user_agent.empty()) curl_easy_setopt(c, CURLOPT_USERAGENT, request.user_agent.c_str());
  if (!request.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, request.ca_file.c_str());
  if (!request.verify_host) curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);

  const CURLcode code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
  if (code == CURLE_OK) {
    result.transport_ok = true;
  } else if (transfer.sink_refused) {
    result.error = "the response body was refused (larger than allowed, or a local write error)";
  } else {
    result.error = error_buffer[0] != 0 ? error_buffer : curl_easy_strerror(code);
  }
  // The handle's options point at this call's headers and form; reset before they are freed.
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(c, CURLOPT_MIMEPOST, nullptr);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
  impl_->give_back(c);
  return result;
}

ClientResult Client::perform(const ClientRequest& request, std::string& body, std::size_t max_body_bytes) {
  body.clear();
  return perform(request, [&](std::string_view chunk) {
    if (body.size() + chunk.size() > max_body_bytes) return false;
    body.append(chunk);
    return true;
  });
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

}  // namespace focal::http
