// SPDX-License-Identifier: AGPL-3.0-or-later
#include <array>
#include <cstdio>
#include <ctime>
#include <span>

#include "core/logging.h"
#include "jobs/jobs.h"
#include "search/asset_filter_sql.h"
#include "search/search.h"
#include "store/database.h"
#include "store/query.h"
#include "text_search/tokenize.h"

namespace focal::search {
namespace {

constexpr int kMaxPageSize = 1000;
constexpr std::array<const char*, 12> kMonths = {"january",   "february", "march",    "april",
                                                 "may",       "june",     "july",     "august",
                                                 "september", "october",  "november", "december"};

// A word is searchable when it holds a letter or digit (FTS5's unicode61 drops everything else, and an empty
// phrase would match nothing). Non-ASCII bytes count as letters: the tokenizer decides.
bool has_token_chars(std::string_view word) {
  for (unsigned char c : word)
    if (c >= 0x80 || std::isalnum(c)) return true;
  return false;
}

// "YYYY-MM-DD..." → "YYYY-MM-DD YYYY month mon" so that "2023", "july" and "2023-07-14" all match.
std::string date_words(int year, int month, int day) {
  if (month < 1 || month > 12) return {};
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d %04d ", year, month, day, year);
  const std::string name = kMonths[static_cast<std::size_t>(month - 1)];
  return buffer + name + " " + name.substr(0, 3);
}

std::string dates_text(const std::optional<std::string>& date_time_original,
                       std::int64_t file_created_at_ms) {
  int year = 0, month = 0, day = 0;
  if (date_time_original && std::sscanf(date_time_original->c_str(), "%d-%d-%d", &year, &month, &day) == 3)
    return date_words(year, month, day);
  const std::time_t seconds = static_cast<std::time_t>(file_created_at_ms / 1000);
  std::tm utc{};
  if (gmtime_r(&seconds, &utc) == nullptr) return {};
  return date_words(utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday);
}

std::string optional_text(const store::Statement& row, int column) {
  return row.is_null(column) ? std::string() : row.text(column);
}

// The whitespace-separated words of a query that hold a letter or digit.
std::vector<std::string> query_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start < text.size()) {
    while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
    std::size_t end = start;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    if (end > start && has_token_chars(text.substr(start, end - start)))
      words.emplace_back(text.substr(start, end - start));
    start = end;
  }
  return words;
}

// FTS5's unicode61 tokens of `text` (remove_diacritics 2): runs of letters and digits, accents removed,
// case folded. PostgreSQL's documents and queries are built from these, so both engines match alike.
std::vector<std::string> keyword_tokens(std::string_view text) {
  return text_search::utf8_words(text_search::fold(text));
}

// A tsvector or tsquery lexeme literal: quoted, with quotes and backslashes doubled (tokens hold only
// letters and digits, so this is defence in depth).
std::string lexeme(std::string_view token) {
  std::string out = "'";
  for (char c : token) {
    if (c == '\'' || c == '\\') out += c;
    out += c;
  }
  return out + "'";
}

}  // namespace

std::string tsvector_text(const std::vector<std::pair<std::string, char>>& fields) {
  // tsvector positions stop at 16383; each field starts a position apart so that a phrase cannot span two.
  constexpr int kMaxPosition = 16383;
  std::string out;
  int position = 0;
  for (const auto& [text, weight] : fields) {
    for (const std::string& token : keyword_tokens(text)) {
      position = std::min(position + 1, kMaxPosition);
      if (!out.empty()) out += ' ';
      out += lexeme(token) + ':' + std::to_string(position) + weight;
    }
    position = std::min(position + 1, kMaxPosition);
  }
  return out;
}

std::string tsquery_text(std::string_view text) {
  const std::vector<std::string> words = query_words(text);
  std::string query;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::vector<std::string> tokens = keyword_tokens(words[i]);
    if (tokens.empty()) continue;
    if (!query.empty()) query += " & ";
    // A word of several tokens ("food-limes") is a phrase of them, as in FTS5.
    std::string phrase;
    for (std::size_t t = 0; t < tokens.size(); ++t) {
      if (t > 0) phrase += " <-> ";
      phrase += lexeme(tokens[t]);
    }
    if (i + 1 == words.size()) phrase += ":*";  // prefix match on the last word (search-as-you-type)
    query += tokens.size() > 1 ? "(" + phrase + ")" : phrase;
  }
  return query;
}

std::string fts5_query(std::string_view text) {
  const std::vector<std::string> words = query_words(text);
  std::string query;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) query += ' ';
    query += '"';
    for (char c : words[i]) {
      if (c == '"') query += '"';  // FTS5 string literal: a quote is doubled
      query += c;
    }
    query += '"';
    if (i + 1 == words.size()) query += '*';  // prefix match on the last word (search-as-you-type)
  }
  return query;
}

namespace {

// The searchable text of one asset, from its library rows.
struct Indexed {
  std::int64_t asset_id = 0;
  std::string filename;
  std::string description;
  std::string camera;
  std::string dates;
};

constexpr std::string_view kIndexedSelect =
    "SELECT a.id, a.original_file_name, e.description, e.make, e.model, e.lens_model, e.date_time_original, "
    "a.file_created_at FROM asset a LEFT JOIN asset_exif e ON e.asset_id = a.id ";

Indexed indexed_from_row(const store::Statement& row) {
  return Indexed{row.int64(0), row.text(1), optional_text(row, 2),
                 optional_text(row, 3) + " " + optional_text(row, 4) + " " + optional_text(row, 5),
                 dates_text(store::column<std::optional<std::string>>(row, 6), row.int64(7))};
}

// Inserts the rows of `assets` (none of them indexed yet), many per statement: a reindex of a large library
// on PostgreSQL is bound by round trips.
Status insert_indexed(store::Connection& connection, std::span<const Indexed> assets) {
  constexpr std::size_t kRowsPerStatement = 100;
  const bool postgres = connection.engine() == store::Engine::kPostgres;
  const std::string_view head =
      postgres ? "INSERT INTO keyword_search (rowid, filename, description, camera, dates, "
                 "ocr, document) VALUES "
               : "INSERT INTO keyword_search (rowid, filename, description, camera, dates, "
                 "ocr) VALUES ";
  const std::string_view row = postgres ? "(?, ?, ?, ?, ?, '', CAST(? AS tsvector))" : "(?, ?, ?, ?, ?, '')";
  for (std::size_t begin = 0; begin < assets.size(); begin += kRowsPerStatement) {
    const auto batch = assets.subspan(begin, std::min(kRowsPerStatement, assets.size() - begin));
    std::string sql = std::string(head) + store::repeated_rows(row, batch.size());
    // Another process sharing the database may have indexed one of them since it was removed: its row is as
    // new as this one.
    if (postgres) sql += " ON CONFLICT (rowid) DO NOTHING";
    auto insert = connection.prepare(sql);
    if (!insert) return insert.error();
    int parameter = 0;
    for (const Indexed& indexed : batch) {
      insert->bind(++parameter, indexed.asset_id);
      for (const std::string* text :
           {&indexed.filename, &indexed.description, &indexed.camera, &indexed.dates})
        insert->bind(++parameter, std::string_view(*text));
      // The weights rank as FTS5's bm25 weights do: file name, then description, then camera and dates.
      if (postgres) {
        insert->bind(++parameter, tsvector_text({{indexed.filename, 'A'},
                                                 {indexed.description, 'B'},
                                                 {indexed.camera, 'C'},
                                                 {indexed.dates, 'C'}}));
      }
    }
    if (Status inserted = insert->run(); !inserted) return inserted;
  }
  return {};
}

}  // namespace

Status KeywordSearch::index_asset(store::Connection& connection, std::int64_t asset_id) {
  auto found = store::query_one(connection, std::string(kIndexedSelect) + "WHERE a.id = ?1", indexed_from_row,
                                asset_id);
  if (!found) return std::move(found).error();
  if (Status removed = store::exec(connection, "DELETE FROM keyword_search WHERE rowid = ?1", asset_id);
      !removed)
    return removed;
  if (!*found) return {};  // the asset is gone: its row is removed
  return insert_indexed(connection, std::span(&**found, 1));
}

Status KeywordSearch::index_asset(std::int64_t asset_id) {
  return db_.write([&](store::Connection& connection) { return index_asset(connection, asset_id); });
}

Status KeywordSearch::remove(std::int64_t asset_id) {
  return db_.write([&](store::Connection& connection) -> Status {
    return store::exec(connection, "DELETE FROM keyword_search WHERE rowid = ?1", asset_id);
  });
}

Status KeywordSearch::reindex_all() {
  auto ids = db_.read([](store::Connection& connection) -> Expected<std::vector<std::int64_t>> {
    return store::query<std::int64_t>(connection, "SELECT id FROM asset ORDER BY id");
  });
  if (!ids) return ids.error();
  Status cleared =
      db_.write([](store::Connection& connection) { return connection.exec("DELETE FROM keyword_search"); });
  if (!cleared) return cleared;
  return store::write_in_chunks(
      db_, *ids, 500, [](store::Connection& connection, std::int64_t first, std::int64_t last) -> Status {
        // Assets imported since the id list was read are indexed by their own metadata jobs, or here when
        // they fall inside the range; DELETE first makes either order safe.
        if (Status s = store::exec(connection, "DELETE FROM keyword_search WHERE rowid BETWEEN ?1 AND ?2",
                                   first, last);
            !s)
          return s;
        auto assets = store::query(connection, std::string(kIndexedSelect) + "WHERE a.id BETWEEN ?1 AND ?2",
                                   indexed_from_row, first, last);
        if (!assets) return assets.error();
        return insert_indexed(connection, *assets);
      });
}

void KeywordSearch::register_jobs(jobs::JobQueue& queue) {
  queue.on_done(jobs::job::kAssetExtractMetadata, [this](const jobs::Job& job, jobs::JobOutcome) {
    if (const std::optional<std::int64_t> id = job.payload().id) {
      if (Status indexed = index_asset(*id); !indexed)
        spdlog::warn("Keyword index of asset {} not updated: {}", *id, indexed.error().message);
    }
    return std::vector<jobs::JobRequest>{};
  });
}

Expected<SearchPage> KeywordSearch::search(const KeywordSearchRequest& request) const {
  if (request.page < 1) return bad_request("page must be a positive integer");
  if (request.size < 1 || request.size > kMaxPageSize) return bad_request("size must be between 1 and 1000");
  // Without words the search is a listing by the filters alone, newest first (as Immich's metadata search).
  const bool postgres = db_.engine() == store::Engine::kPostgres;
  const std::string match = postgres ? tsquery_text(request.query) : fts5_query(request.query);
  auto restriction = detail::restriction_set(request.filter, resolvers_);
  if (!restriction) return restriction.error();
  const std::optional<std::unordered_set<std::int64_t>>& allowed = *restriction;

  const detail::FilterSql filter = detail::filter_sql(request.filter);
  const std::size_t offset =
      static_cast<std::size_t>(request.page - 1) * static_cast<std::size_t>(request.size);
  const std::size_t want = offset + static_cast<std::size_t>(request.size) + 1;
  // bm25 weights: file name, description, camera, dates, OCR text. PostgreSQL's ts_rank weighs D, C, B, A
  // (OCR, camera and dates, description, file name) alike, negated so that lower ranks first on both.
  const std::string ranked_match =
      postgres
          ? "SELECT k.rowid, -ts_rank('{0.25, 0.25, 0.5, 1.0}', k.document, CAST(?1 AS tsquery)) AS rank "
            "FROM keyword_search k JOIN asset a ON a.id = k.rowid LEFT JOIN asset_exif e ON e.asset_id = "
            "a.id WHERE k.document @@ CAST(?1 AS tsquery)"
          : "SELECT k.rowid, bm25(keyword_search, 4.0, 2.0, 1.0, 1.0, 1.0) AS rank FROM keyword_search k "
            "JOIN asset a ON a.id = k.rowid LEFT JOIN asset_exif e ON e.asset_id = a.id "
            "WHERE keyword_search MATCH ?1";
  std::string sql =
      match.empty()
          ? "SELECT a.id, 0.0 FROM asset a LEFT JOIN asset_exif e ON e.asset_id = a.id WHERE 1 = 1" +
                filter.where + " ORDER BY a.file_created_at DESC, a.id DESC"
          : ranked_match + filter.where + " ORDER BY rank, a.file_created_at DESC, a.id";
  // Without a restriction set SQL pages; with one, rows are filtered here and paged after.
  if (!allowed) sql += " LIMIT " + std::to_string(want);
  return db_.read([&](store::Connection& connection) -> Expected<SearchPage> {
    auto statement = connection.prepare(sql);
    if (!statement) return statement.error();
    if (match.empty()) {
      filter.bind(*statement, 1);
    } else {
      statement->bind(1, std::string_view(match));
      filter.bind(*statement, 2);
    }
    std::vector<SearchHit> hits;
    while (hits.size() < want) {
      auto row = statement->step();
      if (!row) return bad_request("Invalid search query: " + row.error().message);
      if (!*row) break;
      const std::int64_t id = statement->int64(0);
      if (allowed && !allowed->contains(id)) continue;
      hits.push_back({id, static_cast<float>(statement->real(1))});
    }
    SearchPage page;
    for (std::size_t i = offset;
         i < hits.size() && page.items.size() < static_cast<std::size_t>(request.size); ++i)
      page.items.push_back(hits[i]);
    if (hits.size() > offset + static_cast<std::size_t>(request.size)) page.next_page = request.page + 1;
    return page;
  });
}

}  // namespace focal::search
