// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ml_server/auth.h"

#include <algorithm>
#include <cctype>

namespace focal {

bool constant_time_equals(std::string_view given, std::string_view expected) {
  // Every byte of `expected` is visited whatever `given` holds; the accumulator hides where they differ.
  volatile unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto g = static_cast<unsigned char>(i < given.size() ? given[i] : 0);
    diff = static_cast<unsigned char>(diff | (g ^ static_cast<unsigned char>(expected[i])));
  }
  return diff == 0;
}

bool api_key_accepted(std::string_view expected, std::string_view x_api_key, std::string_view authorization) {
  if (expected.empty()) return true;
  bool ok = !x_api_key.empty() && constant_time_equals(x_api_key, expected);
  constexpr std::string_view kBearer = "bearer ";
  if (authorization.size() > kBearer.size() &&
      std::equal(kBearer.begin(), kBearer.end(), authorization.begin(),
                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
    auto token = authorization.substr(kBearer.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    // Both headers are checked so the time does not reveal which one was tried.
    ok = constant_time_equals(token, expected) || ok;
  }
  return ok;
}

}  // namespace focal
