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

std::string repeated_rows(std::string_view row, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) (out += i > 0 ? ", " : "") += row;
  return out;
}

std::string id_list(const Connection& connection, std::string_view parameter) {
  const std::string p(parameter);
  if (connection.engine() == Engine::kSqlite) return "(SELECT value FROM json_each(" + p + "))";
  return "(SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(" + p + " AS json)))";
}

}  // namespace focal::store
