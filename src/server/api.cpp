// SPDX-License-Identifier: AGPL-3.0-or-later
#include "server/api.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace focal::server {
namespace {

// "/api/assets/7" → {"api", "assets", "7"} (the same split as http::parse_target, undecoded).
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::size_t start = 0;
  while (true) {
    const auto slash = path.find('/', start);
    segments.emplace_back(
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

bool match_pattern(const std::vector<std::string>& want, const std::vector<std::string>& have,
                   std::map<std::string, std::string>& params) {
  if (want.size() != have.size()) return false;
  std::map<std::string, std::string> found;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!want[i].empty() && want[i].front() == ':') {
      if (have[i].empty()) return false;
      found.emplace(want[i].substr(1), have[i]);
    } else if (want[i] != have[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

std::string_view access_name(Access access) {
  switch (access) {
    case Access::kPublic:
      return "public";
    case Access::kUser:
      return "user";
    case Access::kAdmin:
      return "admin";
  }
  return "user";
}

Expected<std::int64_t> parse_int64(std::string_view text, std::string_view what) {
  std::int64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return bad_request(std::string(what) + " must be an integer");
  }
  return value;
}

std::string range_message(std::string_view key, std::int64_t min, std::int64_t max) {
  return std::string(key) + " must be an integer between " + std::to_string(min) + " and " +
         std::to_string(max);
}

bool read_int(std::string_view text, std::size_t pos, std::size_t len, int& out) {
  if (pos + len > text.size()) return false;
  const auto* begin = text.data() + pos;
  const auto [ptr, ec] = std::from_chars(begin, begin + len, out);
  return ec == std::errc() && ptr == begin + len;
}

}  // namespace

std::string iso_time(std::int64_t ms) {
  const auto seconds = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const auto millis = static_cast<int>(ms - static_cast<std::int64_t>(seconds) * 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buffer, millis);
  return out;
}

std::optional<std::int64_t> parse_iso_time(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  if (!read_int(text, 0, 4, year) || !read_int(text, 5, 2, month) || !read_int(text, 8, 2, day))
    return std::nullopt;
  std::size_t pos = 10;
  int offset_minutes = 0;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != ' ') return std::nullopt;
    if (text.size() < pos + 9 || text[pos + 3] != ':' || text[pos + 6] != ':') return std::nullopt;
    if (!read_int(text, pos + 1, 2, hour) || !read_int(text, pos + 4, 2, minute) ||
        !read_int(text, pos + 7, 2, second)) {
      return std::nullopt;
    }
    pos += 9;
    if (pos < text.size() && text[pos] == '.') {
      std::size_t end = pos + 1;
      while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
      if (end == pos + 1) return std::nullopt;
      int digits = 0;
      for (std::size_t i = pos + 1; i < end && digits < 3; ++i, ++digits)
        millis = millis * 10 + (text[i] - '0');
      for (; digits < 3; ++digits) millis *= 10;
      pos = end;
    }
    if (pos < text.size()) {
      if (text[pos] == 'Z' && pos + 1 == text.size()) {
        pos += 1;
      } else if ((text[pos] == '+' || text[pos] == '-') && text.size() == pos + 6 && text[pos + 3] == ':') {
        int oh = 0, om = 0;
        if (!read_int(text, pos + 1, 2, oh) || !read_int(text, pos + 4, 2, om)) return std::nullopt;
        offset_minutes = (oh * 60 + om) * (text[pos] == '-' ? -1 : 1);
        pos = text.size();
      } else {
        return std::nullopt;
      }
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const auto seconds = static_cast<std::int64_t>(timegm(&tm));
  return (seconds - offset_minutes * 60) * 1000 + millis;
}

Expected<nlohmann::json> ApiRequest::json_body() const {
  if (body.empty()) return nlohmann::json::object();
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return bad_request("Request body is not valid JSON");
  if (!parsed.is_object()) return bad_request("Request body must be a JSON object");
  return parsed;
}

Expected<std::int64_t> ApiRequest::path_int(std::string_view name) const {
  const auto it = path_params.find(std::string(name));
  if (it == path_params.end()) return internal_error("Route has no parameter " + std::string(name));
  auto value = parse_int64(it->second, name);
  if (!value || *value <= 0)
    return bad_request("Invalid " + std::string(name) + ": " + it->second.substr(0, 64));
  return *value;
}

std::optional<std::string> ApiRequest::query_value(std::string_view name) const {
  const auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Expected<std::optional<std::int64_t>> ApiRequest::query_int(std::string_view name, std::int64_t min,
                                                            std::int64_t max) const {
  const auto text = query_value(name);
  if (!text) return std::optional<std::int64_t>{};
  auto value = parse_int64(*text, name);
  if (!value || *value < min || *value > max) return bad_request(range_message(name, min, max));
  return std::optional<std::int64_t>{*value};
}

Expected<std::optional<bool>> ApiRequest::query_bool(std::string_view name) const {
  const auto text = query_value(name);
  if (!text) return std::optional<bool>{};
  if (*text == "true") return std::optional<bool>{true};
  if (*text == "false") return std::optional<bool>{false};
  return bad_request(std::string(name) + " must be true or false");
}

std::optional<std::string> ApiRequest::header(std::string_view lower_case_name) const {
  const auto it = headers.find(std::string(lower_case_name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

const FormPart* ApiRequest::part(std::string_view name) const {
  for (const auto& p : parts) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

ApiResponse ApiResponse::json(const nlohmann::json& value, int status) {
  ApiResponse response;
  response.status = status;
  response.body = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

ApiResponse ApiResponse::no_content() {
  ApiResponse response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

ApiResponse ApiResponse::bytes(std::string data, std::string content_type) {
  ApiResponse response;
  response.body = std::move(data);
  response.content_type = std::move(content_type);
  return response;
}

ApiResponse ApiResponse::send_file(std::filesystem::path path, std::string content_type) {
  ApiResponse response;
  response.file = std::move(path);
  response.content_type = std::move(content_type);
  return response;
}

Expected<std::optional<std::string>> optional_string(const nlohmann::json& body, std::string_view key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string()) return bad_request(std::string(key) + " must be a string");
  return std::optional<std::string>{it->get<std::string>()};
}

Expected<std::optional<bool>> optional_bool(const nlohmann::json& body, std::string_view key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<bool>{};
  if (!it->is_boolean()) return bad_request(std::string(key) + " must be a boolean value");
  return std::optional<bool>{it->get<bool>()};
}

Expected<std::optional<std::int64_t>> optional_int(const nlohmann::json& body, std::string_view key,
                                                   std::int64_t min, std::int64_t max) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<std::int64_t>{};
  if (!it->is_number_integer()) return bad_request(range_message(key, min, max));
  const auto value = it->get<std::int64_t>();
  if (value < min || value > max) return bad_request(range_message(key, min, max));
  return std::optional<std::int64_t>{value};
}

Expected<std::optional<double>> optional_number(const nlohmann::json& body, std::string_view key, double min,
                                                double max) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<double>{};
  if (!it->is_number()) return bad_request(std::string(key) + " must be a number");
  const auto value = it->get<double>();
  if (!std::isfinite(value) || value < min || value > max) {
    return bad_request(std::string(key) + " must be a number between " + nlohmann::json(min).dump() +
                       " and " + nlohmann::json(max).dump());
  }
  return std::optional<double>{value};
}

Expected<std::optional<std::int64_t>> optional_id(const nlohmann::json& body, std::string_view key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<std::int64_t>{};
  auto ids = optional_ids(nlohmann::json{{key, nlohmann::json::array({*it})}}, key);
  if (!ids) return bad_request(std::string(key) + " must be a positive integer id");
  return std::optional<std::int64_t>{(**ids)[0]};
}

Expected<std::optional<std::vector<std::int64_t>>> optional_ids(const nlohmann::json& body,
                                                                std::string_view key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<std::vector<std::int64_t>>{};
  const auto message = std::string(key) + " must be an array of positive integer ids";
  if (!it->is_array()) return bad_request(message);
  std::vector<std::int64_t> ids;
  ids.reserve(it->size());
  for (const auto& element : *it) {
    std::int64_t id = 0;
    if (element.is_number_integer()) {
      id = element.get<std::int64_t>();
    } else if (element.is_string()) {
      auto parsed = parse_int64(element.get_ref<const std::string&>(), key);
      if (parsed) id = *parsed;
    }
    if (id <= 0) return bad_request(message);
    ids.push_back(id);
  }
  return std::optional<std::vector<std::int64_t>>{std::move(ids)};
}

void Api::get(std::string pattern, Guard guard, Handler handler) {
  add("GET", std::move(pattern), guard, std::move(handler));
}
void Api::post(std::string pattern, Guard guard, Handler handler) {
  add("POST", std::move(pattern), guard, std::move(handler));
}
void Api::put(std::string pattern, Guard guard, Handler handler) {
  add("PUT", std::move(pattern), guard, std::move(handler));
}
void Api::patch(std::string pattern, Guard guard, Handler handler) {
  add("PATCH", std::move(pattern), guard, std::move(handler));
}
void Api::del(std::string pattern, Guard guard, Handler handler) {
  add("DELETE", std::move(pattern), guard, std::move(handler));
}

void Api::add(std::string method, std::string pattern, Guard guard, Handler handler) {
  if (guard.access != Access::kPublic && guard.permission == Permission::kNone) {
    throw std::logic_error("route " + method + " " + pattern + " needs credentials but names no permission");
  }
  auto segments = split_path(pattern);
  routes_.push_back(Route{std::move(method), std::move(pattern), std::move(segments), guard.access,
                          guard.permission, guard.is_inline, std::move(handler)});
}

nlohmann::json Api::describe() const {
  auto out = nlohmann::json::array();
  for (const auto& route : routes_) {
    out.push_back({{"method", route.method},
                   {"path", route.pattern},
                   {"access", access_name(route.access)},
                   {"permission", route.permission == Permission::kNone
                                      ? nlohmann::json(nullptr)
                                      : nlohmann::json(to_string(route.permission))}});
  }
  return out;
}

Expected<const Api::Route*> Api::match(std::string_view method, std::string_view path,
                                       std::map<std::string, std::string>& params) const {
  return match(method, split_path(path), params);
}

Expected<const Api::Route*> Api::match(std::string_view method, const std::vector<std::string>& segments,
                                       std::map<std::string, std::string>& params) const {
  // Literal segments win over parameters ("/api/queues/stats" before "/api/queues/:name"): try routes with
  // fewer parameters first.
  const Route* best = nullptr;
  int best_params = 0;
  bool path_known = false;
  std::map<std::string, std::string> best_found;
  for (const auto& route : routes_) {
    std::map<std::string, std::string> found;
    if (!match_pattern(route.segments, segments, found)) continue;
    path_known = true;
    if (route.method != method && !(method == "HEAD" && route.method == "GET")) continue;
    const int count = static_cast<int>(found.size());
    if (best == nullptr || count < best_params) {
      best = &route;
      best_params = count;
      best_found = std::move(found);
    }
  }
  if (best != nullptr) {
    params = std::move(best_found);
    return best;
  }
  std::string path;
  for (const auto& segment : segments) path += "/" + segment.substr(0, 200);
  if (path_known) return Error{ErrorKind::kMethodNotAllowed, "Cannot " + std::string(method) + " " + path};
  return not_found("Cannot " + std::string(method) + " " + path);
}

}  // namespace focal::server
