// SPDX-License-Identifier: AGPL-3.0-or-later
// Copies every row of one database into another, across engines (SQLite ⇄ PostgreSQL): `focal db copy`.
//
// Both databases must already hold the same schema (every component migrated to the same versions); the
// copy refuses otherwise. Tables and columns come from the destination's catalogue, so a table that a
// component adds later is copied without being listed here. The whole copy is one write transaction on the
// destination and one read snapshot of the source: it lands completely or not at all.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/database.h"

namespace focal::store {

struct CopyOptions {
  // Tables the destination keeps as they are (schema_migrations: both sides are at the same versions).
  std::vector<std::string> kept_tables = {"schema_migrations"};
  // Tables derived from others by their component (full-text indexes whose layout differs per engine, tables
  // only some databases have): they are emptied on the destination where it has them, and not copied; the
  // caller rebuilds them afterwards.
  std::vector<std::string> rebuilt_tables;
  // Tables that must hold no rows in the destination (its own library data), so that a copy never replaces
  // a library by mistake. Every other table's rows in the destination are replaced.
  std::vector<std::string> must_be_empty;
  // Called now and then while a table is copied, with the rows copied so far, and once when it is done.
  std::function<void(std::string_view table, std::int64_t rows, bool done)> progress;
};

struct CopiedTable {
  std::string name;
  std::int64_t rows = 0;
};

// Copies `from` into `to` (see the file comment). Sequence positions (SQLite's AUTOINCREMENT counters,
// PostgreSQL's identity sequences) are carried over, so ids that were handed out are never handed out again.
// Foreign keys are checked when the copy completes. Errors name the table.
Expected<std::vector<CopiedTable>> copy_database(Database& from, Database& to, const CopyOptions& options);

}  // namespace focal::store
