// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/copy.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <variant>

#include "store/query.h"

namespace focal::store {
namespace {

// One column value as the source holds it; each binds to the destination as its own kind.
using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string, std::vector<std::byte>>;

// Rows PostgreSQL's cursor hands over per round trip, and the parameters a multi-row INSERT may carry (SQLite
// accepts 32766, PostgreSQL 65535; smaller batches keep memory flat for wide rows such as embeddings).
constexpr int kFetchRows = 1000;
constexpr std::size_t kParametersPerInsert = 4096;
constexpr std::size_t kMaxRowsPerInsert = 256;
constexpr std::int64_t kProgressEvery = 10000;

std::string sql_identifier(std::string_view identifier) {
  std::string out = "\"";
  for (const char c : identifier) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

Error in_table(const Error& error, std::string_view table) {
  return {error.kind, "table " + std::string(table) + ": " + error.message};
}

// Plain tables of the database (SQLite: not FTS5's virtual tables or their shadow tables, not sqlite_*).
Expected<std::vector<std::string>> table_names(Connection& connection) {
  if (connection.engine() == Engine::kSqlite) {
    return query<std::string>(connection,
                              "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' "
                              "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name");
  }
  return query<std::string>(
      connection, "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1");
}

// Stored (not generated) columns, in the table's order.
Expected<std::vector<std::string>> column_names(Connection& connection, const std::string& table) {
  if (connection.engine() == Engine::kSqlite) {
    return query<std::string>(connection, "SELECT name FROM pragma_table_info(?1) ORDER BY cid", table);
  }
  return query<std::string>(connection,
                            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = "
                            "current_schema() AND table_name = ?1 AND is_generated = 'NEVER' "
                            "ORDER BY ordinal_position",
                            table);
}

Value value_of(const Statement& row, int column) {
  switch (row.type(column)) {
    case ValueType::kInteger:
      return row.int64(column);
    case ValueType::kReal:
      return row.real(column);
    case ValueType::kText:
      return row.text(column);
    case ValueType::kBlob:
      return row.blob(column);
    case ValueType::kNull:
      break;
  }
  return nullptr;
}

void bind_value(Statement& statement, int index, const Value& value) {
  std::visit(
      [&](const auto& held) {
        using Held = std::decay_t<decltype(held)>;
        if constexpr (std::is_same_v<Held, std::vector<std::byte>>) {
          statement.bind_blob(index, held);
        } else if constexpr (std::is_same_v<Held, std::string>) {
          statement.bind(index, std::string_view(held));
        } else {
          statement.bind(index, held);
        }
      },
      value);
}

// Calls `fn` for every row of `select`. PostgreSQL's libpq hands a whole result over at once, so a large
// table is read through a cursor in slices instead (inside the same snapshot).
Status for_each_source_row(Connection& connection, const std::string& select,
                           const std::function<Status(const Statement&)>& fn) {
  if (connection.engine() == Engine::kSqlite) return for_each_row(connection, select, fn);
  if (Status declared = connection.exec("DECLARE focal_copy NO SCROLL CURSOR FOR " + select); !declared)
    return declared;
  const std::string fetch = "FETCH FORWARD " + std::to_string(kFetchRows) + " FROM focal_copy";
  for (;;) {
    int rows = 0;
    Status fetched = for_each_row(connection, fetch, [&](const Statement& row) {
      ++rows;
      return fn(row);
    });
    if (!fetched) return fetched;
    if (rows == 0) break;
  }
  return connection.exec("CLOSE focal_copy");
}

// Multi-row INSERTs into one table: one round trip per batch rather than per row.
class BatchInsert {
 public:
  BatchInsert(Connection& connection, const std::string& table, const std::vector<std::string>& columns)
      : connection_(connection),
        columns_(columns.size()),
        batch_rows_(std::clamp<std::size_t>(kParametersPerInsert / columns.size(), 1, kMaxRowsPerInsert)) {
    head_ = "INSERT INTO " + sql_identifier(table) + " (";
    for (std::size_t i = 0; i < columns.size(); ++i)
      head_ += (i > 0 ? ", " : "") + sql_identifier(columns[i]);
    head_ += ") VALUES ";
  }

  Status add(const Statement& row) {
    for (std::size_t i = 0; i < columns_; ++i) pending_.push_back(value_of(row, static_cast<int>(i)));
    return pending_.size() / columns_ == batch_rows_ ? flush() : Status{};
  }

  Status flush() {
    const std::size_t rows = pending_.size() / columns_;
    if (rows == 0) return {};
    std::optional<Statement> partial;
    Statement* statement = nullptr;
    if (rows == batch_rows_ && full_) {
      statement = &*full_;
      statement->reset();
    } else {
      auto prepared = connection_.prepare(sql_for(rows));
      if (!prepared) return prepared.error();
      // The full-batch statement is kept for the next batch; the last, shorter one is used once.
      std::optional<Statement>& kept = rows == batch_rows_ ? full_ : partial;
      kept = std::move(*prepared);
      statement = &*kept;
    }
    for (std::size_t i = 0; i < pending_.size(); ++i)
      bind_value(*statement, static_cast<int>(i) + 1, pending_[i]);
    pending_.clear();
    return statement->run();
  }

 private:
  std::string sql_for(std::size_t rows) const {
    std::string row = "(";
    for (std::size_t i = 0; i < columns_; ++i) row += i > 0 ? ", ?" : "?";
    return head_ + repeated_rows(row + ')', rows);
  }

  Connection& connection_;
  std::size_t columns_;
  std::size_t batch_rows_;
  std::string head_;
  std::vector<Value> pending_;
  std::optional<Statement> full_;
};

Expected<std::int64_t> copy_table(Connection& source, Connection& destination, const std::string& table,
                                  const CopyOptions& options) {
  auto columns = column_names(destination, table);
  if (!columns) return columns.error();
  if (columns->empty()) return internal_error("the destination's table has no columns");
  std::string select = "SELECT ";
  for (std::size_t i = 0; i < columns->size(); ++i)
    select += (i > 0 ? ", " : "") + sql_identifier((*columns)[i]);
  select += " FROM " + sql_identifier(table);
  BatchInsert insert(destination, table, *columns);
  std::int64_t rows = 0;
  Status copied = for_each_source_row(source, select, [&](const Statement& row) -> Status {
    if (Status added = insert.add(row); !added) return added;
    if (++rows % kProgressEvery == 0 && options.progress) options.progress(table, rows, false);
    return {};
  });
  if (copied) copied = insert.flush();
  if (!copied) return copied.error();
  if (options.progress) options.progress(table, rows, true);
  return rows;
}

// The last id each table's counter handed out: SQLite's AUTOINCREMENT counters (sqlite_sequence),
// PostgreSQL's identity sequences. Deleted rows' ids stay used.
Expected<std::map<std::string, std::int64_t>> sequence_positions(Connection& connection) {
  std::vector<std::tuple<std::string, std::int64_t>> rows;
  if (connection.engine() == Engine::kSqlite) {
    auto has_counters = query_value<std::int64_t>(
        connection, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'");
    if (!has_counters) return has_counters.error();
    if (*has_counters == 0) return std::map<std::string, std::int64_t>{};
    auto read = query<std::string, std::int64_t>(connection, "SELECT name, seq FROM sqlite_sequence");
    if (!read) return read.error();
    rows = std::move(*read);
  } else {
    auto read = query<std::string, std::int64_t>(
        connection,
        "SELECT c.table_name::text, COALESCE(s.last_value, 0) FROM information_schema.columns c "
        "JOIN pg_sequences s ON format('%I.%I', s.schemaname, s.sequencename)::regclass = "
        "pg_get_serial_sequence(quote_ident(c.table_name), c.column_name)::regclass "
        "WHERE c.table_schema = current_schema() AND c.is_identity = 'YES'");
    if (!read) return read.error();
    rows = std::move(*read);
  }
  std::map<std::string, std::int64_t> out;
  for (auto& [table, position] : rows) out[table] = position;
  return out;
}

// Moves the destination's counters of the copied tables past both the source's position and the highest id
// copied.
Status carry_sequences(Connection& destination, const std::map<std::string, std::int64_t>& source_positions,
                       const std::vector<std::string>& copied) {
  const auto source_position = [&](const std::string& table) {
    const auto found = source_positions.find(table);
    return found == source_positions.end() ? std::int64_t{0} : found->second;
  };
  if (destination.engine() == Engine::kPostgres) {
    auto identity = query<std::string, std::string>(
        destination,
        "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND is_identity = 'YES'");
    if (!identity) return identity.error();
    for (const auto& [table, column] : *identity) {
      if (!contains(copied, table)) continue;
      auto highest = query_value<std::int64_t>(destination, "SELECT COALESCE(MAX(" + sql_identifier(column) +
                                                                "), 0) FROM " + sql_identifier(table));
      if (!highest) return in_table(highest.error(), table);
      const std::int64_t position = std::max(*highest, source_position(table));
      // setval(…, 1, false): nothing handed out yet, the next id is 1.
      Status set = exec(destination, "SELECT setval(pg_get_serial_sequence(?1, ?2), ?3, ?4 = 1)",
                        sql_identifier(table), column, std::max<std::int64_t>(position, 1), position > 0);
      if (!set) return in_table(set.error(), table);
    }
    return {};
  }
  // SQLite moves an AUTOINCREMENT counter past every id inserted; only a source position beyond the highest
  // copied id (the newest rows were deleted) needs carrying.
  auto counted = query<std::string>(
      destination, "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'");
  if (!counted) return counted.error();
  for (const std::string& table : *counted) {
    const std::int64_t position = source_position(table);
    if (!contains(copied, table) || position == 0) continue;
    Status set = exec(destination, "UPDATE sqlite_sequence SET seq = ?2 WHERE name = ?1 AND seq < ?2", table,
                      position);
    if (set) {
      set = exec(destination,
                 "INSERT INTO sqlite_sequence (name, seq) SELECT ?1, ?2 "
                 "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)",
                 table, position);
    }
    if (!set) return in_table(set.error(), table);
  }
  return {};
}

struct ForeignKey {
  std::string table;
  std::string name;
  std::string definition;
};

// Rows go in table by table, and person ⇄ asset_face reference each other, so the destination's foreign keys
// are checked once at the end: SQLite defers its checks to COMMIT; PostgreSQL's constraints (not deferrable)
// are dropped here and added back by restore_foreign_keys, which validates every row.
Expected<std::vector<ForeignKey>> suspend_foreign_keys(Connection& destination) {
  if (destination.engine() == Engine::kSqlite) {
    if (Status deferred = destination.exec("PRAGMA defer_foreign_keys = ON"); !deferred)
      return deferred.error();
    return std::vector<ForeignKey>{};
  }
  auto keys =
      query(destination,
            "SELECT cl.relname::text, c.conname::text, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_class cl ON cl.oid = c.conrelid WHERE c.contype = 'f' AND cl.relnamespace = "
            "current_schema()::regnamespace ORDER BY 1, 2",
            [](const Statement& row) {
              return ForeignKey{row.text(0), row.text(1), row.text(2)};
            });
  if (!keys) return keys.error();
  for (const ForeignKey& key : *keys) {
    Status dropped = destination.exec("ALTER TABLE " + sql_identifier(key.table) + " DROP CONSTRAINT " +
                                      sql_identifier(key.name));
    if (!dropped) return in_table(dropped.error(), key.table);
  }
  return keys;
}

Status restore_foreign_keys(Connection& destination, const std::vector<ForeignKey>& keys) {
  for (const ForeignKey& key : keys) {
    Status added = destination.exec("ALTER TABLE " + sql_identifier(key.table) + " ADD CONSTRAINT " +
                                    sql_identifier(key.name) + " " + key.definition);
    if (!added) return in_table(added.error(), key.table);
  }
  return {};
}

std::string versions_text(const std::vector<std::pair<std::string, int>>& versions) {
  std::string out;
  for (const auto& [component, version] : versions)
    out += (out.empty() ? "" : ", ") + component + " v" + std::to_string(version);
  return out.empty() ? "no tables" : out;
}

}  // namespace

Expected<std::vector<CopiedTable>> copy_database(Database& from, Database& to, const CopyOptions& options) {
  auto from_versions = from.schema_versions();
  if (!from_versions) return from_versions.error();
  auto to_versions = to.schema_versions();
  if (!to_versions) return to_versions.error();
  if (*from_versions != *to_versions) {
    return bad_request("the source's schema (" + versions_text(*from_versions) +
                       ") differs from the destination's (" + versions_text(*to_versions) +
                       "): migrate both with this focal first (focal db migrate)");
  }
  const auto is_copied = [&](const std::string& table) {
    return !contains(options.kept_tables, table) && !contains(options.rebuilt_tables, table);
  };
  return from.read([&](Connection& source) -> Expected<std::vector<CopiedTable>> {
    auto source_tables = table_names(source);
    if (!source_tables) return source_tables.error();
    auto positions = sequence_positions(source);
    if (!positions) return positions.error();
    return to.write([&](Connection& destination) -> Expected<std::vector<CopiedTable>> {
      auto destination_tables = table_names(destination);
      if (!destination_tables) return destination_tables.error();
      std::vector<std::string> copied;
      for (const std::string& table : *destination_tables)
        if (is_copied(table)) copied.push_back(table);
      for (const std::string& table : *source_tables) {
        if (is_copied(table) && !contains(copied, table))
          return bad_request("table " + table + " is in the source but not in the destination");
      }
      for (const std::string& table : copied) {
        if (!contains(*source_tables, table))
          return bad_request("table " + table + " is in the destination but not in the source");
      }
      for (const std::string& table : options.must_be_empty) {
        auto rows = query_value<std::int64_t>(destination, "SELECT count(*) FROM " + sql_identifier(table));
        if (!rows) return in_table(rows.error(), table);
        if (*rows > 0) {
          return Error{ErrorKind::kConflict, "the destination already holds a library (" +
                                                 std::to_string(*rows) + " rows in " + table +
                                                 "): copy into an empty database"};
        }
      }
      auto foreign_keys = suspend_foreign_keys(destination);
      if (!foreign_keys) return foreign_keys.error();
      std::vector<std::string> emptied = copied;
      for (const std::string& table : options.rebuilt_tables)
        if (contains(*destination_tables, table)) emptied.push_back(table);
      for (const std::string& table : emptied) {
        if (Status cleared = destination.exec("DELETE FROM " + sql_identifier(table)); !cleared)
          return in_table(cleared.error(), table);
      }
      std::vector<CopiedTable> report;
      for (const std::string& table : copied) {
        auto rows = copy_table(source, destination, table, options);
        if (!rows) return in_table(rows.error(), table);
        report.push_back({table, *rows});
      }
      if (Status carried = carry_sequences(destination, *positions, copied); !carried) return carried.error();
      if (Status restored = restore_foreign_keys(destination, *foreign_keys); !restored)
        return restored.error();
      return report;
    });
  });
}

}  // namespace focal::store
