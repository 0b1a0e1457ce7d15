// SPDX-License-Identifier: AGPL-3.0-or-later
// `focal db migrate` and `focal db copy`: bring a library's schema up to date, and move a library between
// SQLite and PostgreSQL (or make a consistent copy on the same engine).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli.h"
#include "config/focal_config.h"
#include "search/search.h"
#include "services.h"
#include "store/copy.h"
#include "text_search/text_search.h"

namespace focal::app {
namespace {

// A database named on the command line: a postgresql:// URL, or an SQLite file as `sqlite:PATH` or a path.
struct DatabaseLocation {
  store::DatabaseOptions options;
  std::string shown;  // for messages: the path, or the URL without its password
};

Expected<DatabaseLocation> parse_location(const std::string& text) {
  DatabaseLocation location;
  location.options.reader_connections = 1;
  if (is_postgres_url(text)) {
    location.options.postgres_url = text;
    location.shown = redacted_database_url(text);
    return location;
  }
  if (text.find("://") != std::string::npos)
    return bad_request("'" + text + "' is neither a postgresql:// URL nor an SQLite path (sqlite:PATH)");
  std::string path = text.starts_with("sqlite:") ? text.substr(7) : text;
  if (path.empty()) return bad_request("an SQLite location needs a path (sqlite:PATH)");
  location.options.path = std::filesystem::absolute(path).lexically_normal();
  location.shown = location.options.path.string();
  return location;
}

DatabaseLocation configured_location(const FocalConfig& config) {
  DatabaseLocation location{database_options(config), config.database_location()};
  location.options.reader_connections = 1;
  return location;
}

Expected<std::unique_ptr<store::Database>> open_migrated(const DatabaseLocation& location) {
  auto db = store::Database::open(location.options);
  if (!db) return Error{db.error().kind, "Opening " + location.shown + ": " + db.error().message};
  if (Status migrated = migrate_all(**db); !migrated)
    return Error{migrated.error().kind, location.shown + ": " + migrated.error().message};
  return db;
}

int print_versions(store::Database& db, const std::string& shown) {
  auto versions = db.schema_versions();
  if (!versions) return fail(versions.error());
  std::printf("%s is up to date:\n", shown.c_str());
  for (const auto& [component, version] : *versions) std::printf("  %-12s v%d\n", component.c_str(), version);
  return kExitOk;
}

// Tables whose layout differs per engine (SQLite's FTS5 tables, PostgreSQL's tsvector and trigram-indexed
// tables) or that only some databases have (smart_search_vector and face_search_vector, where
// FOCAL_VECTOR_INDEX=pgvector made them): not copied, but rebuilt on the destination from the copied rows by
// their components (the pgvector vectors when the next server with FOCAL_VECTOR_INDEX=pgvector starts on it).
const std::vector<std::string> kRebuiltTables = {"keyword_search", "ocr_search", "smart_search_vector",
                                                 "face_search_vector"};

Status rebuild_derived_tables(store::Database& db) {
  if (Status keywords = search::KeywordSearch(db).reindex_all(); !keywords)
    return Error{keywords.error().kind, "Rebuilding the keyword index: " + keywords.error().message};
  if (Status text = text_search::rebuild_search_index(db); !text)
    return Error{text.error().kind, "Rebuilding the text-in-photos index: " + text.error().message};
  return {};
}

int copy(const DatabaseLocation& from, const DatabaseLocation& to) {
  const bool same_sqlite = from.options.postgres_url.empty() && to.options.postgres_url.empty() &&
                           from.options.path == to.options.path;
  if (same_sqlite ||
      (!from.options.postgres_url.empty() && from.options.postgres_url == to.options.postgres_url))
    return fail(bad_request("the source and the destination are the same database (" + from.shown + ")"));
  // A mistyped source path must not become a new, empty library that is then "copied".
  if (from.options.postgres_url.empty() && !std::filesystem::exists(from.options.path))
    return fail(not_found("no SQLite library at " + from.shown));
  const auto started = std::chrono::steady_clock::now();
  auto source = open_migrated(from);
  if (!source) return fail(source.error());
  auto destination = open_migrated(to);
  if (!destination) return fail(destination.error());

  store::CopyOptions options;
  options.rebuilt_tables = kRebuiltTables;
  // The destination's own library data is never replaced; only tables a fresh migration fills are.
  options.must_be_empty = {"library", "asset", "auth_user"};
  const bool terminal = isatty(STDERR_FILENO) != 0;  // a running count only where it can be overwritten
  options.progress = [terminal](std::string_view table, std::int64_t rows, bool done) {
    if (done) {
      std::printf("  %-22.*s %10lld rows\n", static_cast<int>(table.size()), table.data(),
                  static_cast<long long>(rows));
      std::fflush(stdout);
    } else if (terminal) {
      std::fprintf(stderr, "  %.*s: %lld rows…\r", static_cast<int>(table.size()), table.data(),
                   static_cast<long long>(rows));
    }
  };
  std::printf("Copying %s to %s\n", from.shown.c_str(), to.shown.c_str());
  auto copied = store::copy_database(**source, **destination, options);
  if (!copied) return fail(copied.error());
  std::int64_t rows = 0;
  for (const auto& table : *copied) rows += table.rows;
  const auto seconds_since = [](std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  };
  std::printf("Copied %lld rows in %zu tables in %.1f s.\n", static_cast<long long>(rows), copied->size(),
              seconds_since(started));
  const auto rebuilding = std::chrono::steady_clock::now();
  if (Status rebuilt = rebuild_derived_tables(**destination); !rebuilt) return fail(rebuilt.error());
  std::printf("Rebuilt the keyword and text-in-photos indexes in %.1f s.\n", seconds_since(rebuilding));
  std::printf("Run focal on it with the same FOCAL_DATA_DIR (previews and index files stay there)%s.\n",
              to.options.postgres_url.empty() ? "" : " and FOCAL_DATABASE_URL set to the destination");
  return kExitOk;
}

}  // namespace

void register_db_cli(CLI::App& app, CliContext& context, int& exit_code) {
  struct Flags {
    std::string database, from, to;
  };
  auto flags = std::make_shared<Flags>();  // CLI11 writes the options here; the callbacks read them
  // The configured library, or the one an option names.
  const auto location_of = [&context](const std::string& named) -> Expected<DatabaseLocation> {
    if (named.empty()) return configured_location(context.config());
    return parse_location(named);
  };

  auto* db_cmd = app.add_subcommand("db", "Migrate the library's database, or copy it to another one");
  db_cmd->require_subcommand(1);
  const std::string location_help =
      "a postgresql://user:password@host:port/database URL, or an SQLite file (sqlite:PATH or PATH)";

  auto* migrate_cmd = db_cmd->add_subcommand(
      "migrate", "Bring every component's tables up to this focal's schema and print the versions");
  migrate_cmd->add_option("--database", flags->database,
                          "The database to migrate (default: the configured library): " + location_help);
  migrate_cmd->callback([&exit_code, flags, location_of] {
    auto location = location_of(flags->database);
    if (!location) {
      exit_code = fail(location.error());
      return;
    }
    auto db = open_migrated(*location);
    exit_code = db ? print_versions(**db, location->shown) : fail(db.error());
  });

  auto* copy_cmd = db_cmd->add_subcommand(
      "copy",
      "Copy the whole library (users, photos, embeddings, faces, people, jobs, settings) into an empty "
      "database; stop focal first");
  copy_cmd->add_option("--from", flags->from,
                       "The library to copy (default: the configured one): " + location_help);
  copy_cmd->add_option("--to", flags->to, "The empty database to fill: " + location_help)->required();
  copy_cmd->callback([&exit_code, flags, location_of] {
    auto from = location_of(flags->from);
    auto to = parse_location(flags->to);
    if (!from || !to) {
      exit_code = fail(!from ? from.error() : to.error());
      return;
    }
    exit_code = copy(*from, *to);
  });
}

}  // namespace focal::app
