// SPDX-License-Identifier: AGPL-3.0-or-later
// Optional API key for focal-ml (FOCAL_ML_API_KEY). Accepted as `x-api-key: <key>` or
// `Authorization: Bearer <key>`, so it works both from a client and behind a reverse proxy that injects it.
#pragma once

#include <string>
#include <string_view>

namespace focal {

// Compares in time that depends only on `expected`'s length, so a network attacker cannot find the key
// byte by byte from response times.
bool constant_time_equals(std::string_view given, std::string_view expected);

// True when either header carries `expected`. An empty `expected` accepts everything (no key configured).
bool api_key_accepted(std::string_view expected, std::string_view x_api_key, std::string_view authorization);

}  // namespace focal
