// SPDX-License-Identifier: AGPL-3.0-or-later
// JSON text helpers for response bodies. Numbers follow orjson (as in Immich): the shortest decimal that
// round-trips in the value's own precision, integral values keep ".0", no spaces, compact exponents.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace focal {

// Appends `v` (must be finite); float32 digits for float, float64 digits for double.
void append_float32(std::string& out, float v);
void append_float64(std::string& out, double v);
// Appends a JSON string literal with escaping.
void append_json_string(std::string& out, std::string_view s);
// "[a,b,c]" with float32 formatting: the embedding string Immich stores (JSON-in-JSON).
std::string float32_array(std::span<const float> values);

}  // namespace focal
