// SPDX-License-Identifier: AGPL-3.0-or-later
#include "config/env.h"

#include <unistd.h>

namespace focal {

EnvMap process_environment() {
  EnvMap env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string kv(*entry);
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

}  // namespace focal
