// SPDX-License-Identifier: AGPL-3.0-or-later
#include "http/form.h"

#include <boost/url/decode_view.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>

namespace focal::http {
namespace {

namespace urls = boost::urls;

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos)
      return false;
  }
  return true;
}

Expected<std::multimap<std::string, std::string>> decode_params(const urls::params_view& params) {
  std::multimap<std::string, std::string> out;
  try {
    for (const auto& param : params) out.emplace(param.key, param.has_value ? param.value : std::string());
  } catch (const std::exception&) {
    return bad_request("Invalid percent-encoding in the query or form");
  }
  return out;
}

urls::encoding_opts form_encoding() {
  urls::encoding_opts options;
  options.space_as_plus = true;
  return options;
}

}  // namespace

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

Expected<Target> parse_target(std::string_view target) {
  auto parsed = urls::parse_origin_form(urls::string_view(target.data(), target.size()));
  if (!parsed) return bad_request("Invalid request target");
  Target out;
  const auto encoded_path = parsed->encoded_path();
  std::size_t start = 0;
  const std::string_view path(encoded_path.data(), encoded_path.size());
  // Segments are split before decoding so that an encoded '/' cannot create a path segment.
  while (true) {
    const auto slash = path.find('/', start);
    const auto piece =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    auto pct = urls::make_pct_string_view(urls::string_view(piece.data(), piece.size()));
    if (!pct) return bad_request("Invalid percent-encoding in the request path");
    std::string segment;
    for (const char c : urls::decode_view(*pct)) segment.push_back(c);
    out.segments.push_back(std::move(segment));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  for (std::size_t i = 0; i < out.segments.size(); ++i) out.path += (i == 0 ? "" : "/") + out.segments[i];
  if (!out.segments.empty() && out.segments.front().empty()) out.segments.erase(out.segments.begin());
  if (parsed->has_query()) {
    auto query = decode_params(parsed->params(form_encoding()));
    if (!query) return query.error();
    out.query = std::move(*query);
  }
  return out;
}

std::multimap<std::string, std::string> parse_urlencoded(std::string_view text) {
  // As browsers and Python's urllib do: '+' is a space, "%XX" a byte, anything else (a stray '%', quotes)
  // is taken literally.
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const auto decode = [&](std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '+') {
        out.push_back(' ');
      } else if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
        i += 2;
      } else {
        out.push_back(in[i]);
      }
    }
    return out;
  };
  std::multimap<std::string, std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto amp = text.find('&', start);
    const auto field =
        text.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!field.empty()) {
      const auto equals = field.find('=');
      out.emplace(decode(field.substr(0, equals)),
                  equals == std::string_view::npos ? std::string() : decode(field.substr(equals + 1)));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return out;
}

std::optional<std::map<std::string, std::string>> parse_parameters(std::string_view text) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == ';')) ++pos;
    if (pos == text.size()) break;
    const auto equals = text.find('=', pos);
    if (equals == std::string_view::npos) return std::nullopt;
    const auto name = lower_ascii(trim_blanks(text.substr(pos, equals - pos)));
    if (!is_token(name)) return std::nullopt;
    std::size_t cursor = equals + 1;
    while (cursor < text.size() && (text[cursor] == ' ' || text[cursor] == '\t')) ++cursor;
    std::string value;
    if (cursor < text.size() && text[cursor] == '"') {
      ++cursor;
      bool closed = false;
      while (cursor < text.size()) {
        const char c = text[cursor++];
        if (c == '\\' && cursor < text.size()) {
          value.push_back(text[cursor++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value.push_back(c);
        }
      }
      if (!closed) return std::nullopt;
      const auto next = text.find(';', cursor);
      if (!trim_blanks(text.substr(cursor, next == std::string_view::npos ? next : next - cursor)).empty())
        return std::nullopt;  // garbage after the closing quote
      pos = next == std::string_view::npos ? text.size() : next;
    } else {
      const auto next = text.find(';', cursor);
      value = std::string(
          trim_blanks(text.substr(cursor, next == std::string_view::npos ? next : next - cursor)));
      pos = next == std::string_view::npos ? text.size() : next;
    }
    out.insert_or_assign(name, std::move(value));
  }
  return out;
}

std::optional<MediaType> parse_media_type(std::string_view value) {
  const auto semicolon = value.find(';');
  const auto essence = trim_blanks(value.substr(0, semicolon));
  const auto slash = essence.find('/');
  if (slash == std::string_view::npos || !is_token(essence.substr(0, slash)) ||
      !is_token(essence.substr(slash + 1))) {
    return std::nullopt;
  }
  MediaType out{lower_ascii(essence), {}};
  if (semicolon != std::string_view::npos) {
    auto params = parse_parameters(value.substr(semicolon + 1));
    if (!params) return std::nullopt;
    out.params = std::move(*params);
  }
  return out;
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    const auto end = std::min(header.find(';', pos), header.size());
    const auto item = trim_blanks(header.substr(pos, end - pos));
    if (item.size() > name.size() && item.substr(0, name.size()) == name && item[name.size()] == '=') {
      auto cookie = item.substr(name.size() + 1);
      if (cookie.size() >= 2 && cookie.front() == '"' && cookie.back() == '"')
        cookie = cookie.substr(1, cookie.size() - 2);
      return std::string(cookie);
    }
    pos = end + 1;
  }
  return std::nullopt;
}

}  // namespace focal::http
