// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ml_server/json_format.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace focal {
namespace {

// Rewrites std::to_chars' shortest scientific form ("6.9e+02") into Python-repr-like notation:
// fixed for 1e-4 <= |v| < 1e16 ("690.0", "0.0001"), otherwise "1e-5" / "1.5e16".
template <class T>
void append_shortest(std::string& out, T v) {
  if (v == 0) {
    out += std::signbit(v) ? "-0.0" : "0.0";
    return;
  }
  std::array<char, 64> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::scientific);
  std::string_view sci(buf.data(), static_cast<std::size_t>(res.ptr - buf.data()));
  const bool negative = sci.front() == '-';
  if (negative) sci.remove_prefix(1);
  const auto e = sci.find('e');
  const int exp10 = std::atoi(std::string(sci.substr(e + 1)).c_str());
  std::string digits;
  for (const char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  if (negative) out.push_back('-');
  if (exp10 < -4 || exp10 >= 16) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out += std::to_string(exp10);
    return;
  }
  if (exp10 < 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-exp10 - 1), '0');
    out += digits;
    return;
  }
  const auto int_len = static_cast<std::size_t>(exp10) + 1;
  if (digits.size() <= int_len) {
    out += digits;
    out.append(int_len - digits.size(), '0');
    out += ".0";
  } else {
    out.append(digits, 0, int_len);
    out.push_back('.');
    out.append(digits, int_len);
  }
}

}  // namespace

void append_float32(std::string& out, float v) { append_shortest(out, v); }
void append_float64(std::string& out, double v) { append_shortest(out, v); }

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          std::array<char, 8> esc{};
          std::snprintf(esc.data(), esc.size(), "\\u%04x",
                        static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += esc.data();
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::string float32_array(std::span<const float> values) {
  std::string out;
  out.reserve(values.size() * 13 + 2);
  out.push_back('[');
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out.push_back(',');
    append_float32(out, values[i]);
  }
  out.push_back(']');
  return out;
}

}  // namespace focal
