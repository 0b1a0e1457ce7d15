// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/query.h"

namespace focal::store {

std::string json_ids(std::span<const std::int64_t> ids) {
  std::string out = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  return out + "]";
}

}  // namespace focal::store
