// SPDX-License-Identifier: AGPL-3.0-or-later
// Parsing of the text parts of HTTP requests that every route shares: request targets, query strings and
// urlencoded bodies (Boost.URL), media types with parameters, cookies.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace focal::http {

// ASCII lower case (header names, media types); other bytes unchanged.
std::string lower_ascii(std::string_view text);
// Without leading and trailing spaces and tabs.
std::string_view trim_blanks(std::string_view text);

struct Target {
  std::string path;                   // decoded
  std::vector<std::string> segments;  // split on '/' first, then decoded (so "%2F" stays inside a segment)
  std::multimap<std::string, std::string> query;
};

// An origin-form target ("/path?query"); 400 for anything else or invalid percent-encoding.
Expected<Target> parse_target(std::string_view target);

// application/x-www-form-urlencoded bodies, leniently as browsers and urllib: '+' is a space, "%XX" a byte,
// a stray '%' stays as it is.
std::multimap<std::string, std::string> parse_urlencoded(std::string_view text);

struct MediaType {
  std::string type;                           // lower case, e.g. "multipart/form-data"
  std::map<std::string, std::string> params;  // lower-case names, unquoted values
};

// `; name=value; name="quoted \\"value\\""` parameters (what follows the first ';' of a header value): lower-case
// names, unquoted values. nullopt for an unterminated quoted-string or a parameter without '='.
std::optional<std::map<std::string, std::string>> parse_parameters(std::string_view text);

// "Multipart/Form-Data; boundary=\"x y\"" → {"multipart/form-data", {boundary: "x y"}}. nullopt when the
// value is not type/subtype (RFC 9110 §8.3.1: type, subtype and parameter names are case-insensitive).
std::optional<MediaType> parse_media_type(std::string_view value);

// The value of cookie `name` in a Cookie header, if present.
std::optional<std::string> cookie_value(std::string_view header, std::string_view name);

}  // namespace focal::http
