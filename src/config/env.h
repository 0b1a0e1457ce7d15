// SPDX-License-Identifier: AGPL-3.0-or-later
// Environment access through a value, so configuration parsing is a pure function (and testable).
#pragma once

#include <map>
#include <string>

namespace focal {

using EnvMap = std::map<std::string, std::string>;

// Snapshot of the process environment.
EnvMap process_environment();

}  // namespace focal
