// SPDX-License-Identifier: AGPL-3.0-or-later
// focal-ml's `entries` JSON (task / type / model name / options) with Immich's rules and focal's limits.
#include <cstdint>
#include <string_view>

#include "ml_server/request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  focal::EntriesLimits limits;
  const auto entries =
      focal::parse_entries(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (entries) {
    (void)focal::check_dependencies(*entries);
    for (const auto& entry : *entries) {
      // A name that could leave the model cache never gets through.
      if (entry.clean_name.find("..") != std::string::npos ||
          entry.clean_name.find('\0') != std::string::npos ||
          (!entry.clean_name.empty() && entry.clean_name.front() == '/'))
        __builtin_trap();
    }
  }
  return 0;
}
