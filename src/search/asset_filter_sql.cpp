// SPDX-License-Identifier: AGPL-3.0-or-later
#include "search/asset_filter_sql.h"

#include "store/query.h"

namespace focal::search::detail {

int FilterSql::bind(store::Statement& statement, int first) const {
  int index = first;
  for (const auto& param : params) {
    if (const auto* number = std::get_if<std::int64_t>(&param))
      statement.bind(index++, *number);
    else
      statement.bind(index++, std::string_view(std::get<std::string>(param)));
  }
  return index;
}

FilterSql filter_sql(const AssetFilter& filter) {
  FilterSql sql;
  if (filter.owner_id) {
    sql.where += " AND a.owner_id = ?";
    sql.params.emplace_back(*filter.owner_id);
  }
  if (!filter.with_deleted) sql.where += " AND a.deleted_at IS NULL";
  // Locked assets need a PIN-unlocked session in Immich; focal has none, so they never appear.
  sql.where += filter.include_hidden ? " AND a.visibility IN ('timeline', 'archive', 'hidden')"
                                     : " AND a.visibility IN ('timeline', 'archive')";
  if (filter.taken_after_ms) {
    sql.where += " AND a.file_created_at >= ?";
    sql.params.emplace_back(*filter.taken_after_ms);
  }
  if (filter.taken_before_ms) {
    sql.where += " AND a.file_created_at <= ?";
    sql.params.emplace_back(*filter.taken_before_ms);
  }
  const auto equals = [&](const std::optional<std::string>& value, const char* column) {
    if (!value) return;
    sql.where += std::string(" AND ") + column + " = ?";
    sql.params.emplace_back(*value);
  };
  equals(filter.make, "e.make");
  equals(filter.model, "e.model");
  equals(filter.lens_model, "e.lens_model");
  equals(filter.type, "a.type");
  equals(filter.file_type, "a.file_type");
  return sql;
}

bool has_column_filters(const AssetFilter& filter) {
  return filter.taken_after_ms || filter.taken_before_ms || filter.make || filter.model ||
         filter.lens_model || filter.type || filter.file_type;
}

Expected<bool> owner_is_minority(store::Connection& connection, const AssetFilter& filter) {
  if (!filter.owner_id) return false;
  auto mine = store::query_value<std::int64_t>(connection, "SELECT count(*) FROM asset WHERE owner_id = ?",
                                               *filter.owner_id);
  if (!mine) return mine.error();
  auto all = store::query_value<std::int64_t>(connection, "SELECT count(*) FROM asset");
  if (!all) return all.error();
  return *mine * 2 <= *all;
}

namespace {
Expected<std::unordered_set<std::int64_t>> collect(store::Connection& connection, const std::string& sql,
                                                   const FilterSql& params) {
  auto statement = connection.prepare(sql);
  if (!statement) return statement.error();
  params.bind(*statement, 1);
  std::unordered_set<std::int64_t> ids;
  Status walked =
      store::for_each_row(*statement, [&](const store::Statement& row) { ids.insert(row.int64(0)); });
  if (!walked) return walked.error();
  return ids;
}
}  // namespace

Expected<std::unordered_set<std::int64_t>> matching_ids(store::Connection& connection,
                                                        const AssetFilter& filter) {
  const FilterSql sql = filter_sql(filter);
  return collect(
      connection,
      "SELECT a.id FROM asset a LEFT JOIN asset_exif e ON e.asset_id = a.id WHERE 1 = 1" + sql.where, sql);
}

Expected<std::unordered_set<std::int64_t>> excluded_ids(store::Connection& connection,
                                                        const AssetFilter& filter) {
  AssetFilter visibility_only;
  visibility_only.owner_id = filter.owner_id;
  visibility_only.with_deleted = filter.with_deleted;
  visibility_only.include_hidden = filter.include_hidden;
  const FilterSql sql = filter_sql(visibility_only);
  return collect(connection, "SELECT a.id FROM asset a WHERE NOT (1 = 1" + sql.where + ")", sql);
}

Expected<std::optional<std::unordered_set<std::int64_t>>> restriction_set(const AssetFilter& filter,
                                                                          const FilterResolvers& resolvers) {
  std::optional<std::unordered_set<std::int64_t>> result = filter.allowed_asset_ids;
  const auto narrow = [&](std::unordered_set<std::int64_t> ids) {
    if (!result) {
      result = std::move(ids);
    } else {
      std::erase_if(*result, [&](std::int64_t id) { return !ids.contains(id); });
    }
  };
  if (!filter.person_ids.empty()) {
    if (!resolvers.people) return bad_request("Filtering by people is not available");
    auto people = resolvers.people(filter.owner_id, filter.person_ids);
    if (!people) return people.error();
    narrow(std::move(*people));
  }
  if (filter.ocr_text) {
    if (!resolvers.text) return bad_request("Filtering by text in photos is not available");
    auto matching = resolvers.text(filter.owner_id, *filter.ocr_text);
    if (!matching) return matching.error();
    narrow(std::move(*matching));
  }
  return result;
}

}  // namespace focal::search::detail
