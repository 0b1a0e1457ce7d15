// SPDX-License-Identifier: AGPL-3.0-or-later
#include "search/pgvector_index.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "search/vector_index_internal.h"
#include "store/query.h"

namespace focal::search {
namespace {

using detail::normalized_copy;
using detail::normalized_rows;
using detail::passes;
using detail::TopK;

// pg_advisory_xact_lock key of the set-up below ("focalvec").
constexpr std::int64_t kSetupLock = 0x666f63616c766563;
// Vectors per INSERT: ~6 KB of text each at 512 dimensions.
constexpr std::size_t kVectorsPerInsert = 200;
// Embeddings read per statement by the backfill.
constexpr std::size_t kBackfillChunk = 500;
// Up to this many allowed ids, a search computes every allowed distance instead of walking the HNSW graph.
constexpr std::size_t kExactAllowed = 2000;
// pgvector's bounds for hnsw.ef_search.
constexpr std::size_t kMaxEfSearch = 1000;

// pgvector's text form, "[x,y,…]", with the shortest digits that read back as the same float.
std::string vector_text(std::span<const float> values) {
  std::string out;
  out.reserve(values.size() * 12 + 2);
  out += '[';
  char digits[32];
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    const auto written = std::to_chars(digits, digits + sizeof digits, values[i]);
    out.append(digits, written.ptr);
  }
  out += ']';
  return out;
}

// "0.8.5" → (0, 8); nullopt when unreadable.
std::optional<std::pair<int, int>> major_minor(std::string_view version) {
  int major = 0;
  int minor = 0;
  const char* end = version.data() + version.size();
  auto first = std::from_chars(version.data(), end, major);
  if (first.ec != std::errc{} || first.ptr == end || *first.ptr != '.') return std::nullopt;
  auto second = std::from_chars(first.ptr + 1, end, minor);
  if (second.ec != std::errc{}) return std::nullopt;
  return std::pair{major, minor};
}

Error unavailable(std::string message) { return {ErrorKind::kUnavailable, std::move(message)}; }

std::string hnsw_index_name(const PgvectorTable& table, std::size_t dimension) {
  return table.vectors + "_hnsw_" + std::to_string(dimension);
}

// Writes `ids.size()` normalized vectors (back to back in `rows`) for existing source rows of that
// dimension, copying each row's model and version.
Status write_vectors(store::Connection& connection, const PgvectorTable& table,
                     std::span<const std::int64_t> ids, std::span<const float> rows, std::size_t dimension) {
  const std::string& key = table.key;
  for (std::size_t begin = 0; begin < ids.size(); begin += kVectorsPerInsert) {
    const std::size_t count = std::min(kVectorsPerInsert, ids.size() - begin);
    auto statement = connection.prepare(
        "INSERT INTO " + table.vectors + " (" + key + ", model, dim, version, embedding) SELECT s." + key +
        ", s.model, s.dim, s." + table.source_version + ", v.embedding::vector FROM (VALUES " +
        store::repeated_rows("(?, ?)", count) + ") AS v (" + key + ", embedding) JOIN " + table.source +
        " s ON s." + key + " = v." + key + " AND s.dim = " + std::to_string(dimension) + " ON CONFLICT (" +
        key +
        ") DO UPDATE SET model = excluded.model, dim = excluded.dim, "
        "version = excluded.version, embedding = excluded.embedding");
    if (!statement) return statement.error();
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t row = begin + i;
      statement->bind(static_cast<int>(2 * i + 1), ids[row]);
      statement->bind(static_cast<int>(2 * i + 2), vector_text(rows.subspan(row * dimension, dimension)));
    }
    if (Status ok = statement->run(); !ok) return ok;
  }
  return {};
}

class PgvectorIndex final : public VectorIndex {
 public:
  PgvectorIndex(store::Database& db, const PgvectorTable& table, std::string model, std::size_t dimension,
                const HnswParams& params)
      : db_(db), table_(table), model_(std::move(model)), dimension_(dimension), params_(params) {}

  std::size_t dimension() const override { return dimension_; }

  std::size_t size() const override {
    auto rows = db_.read([&](store::Connection& connection) {
      return store::query_value<std::int64_t>(
          connection, "SELECT count(*) FROM " + table_.vectors + " " + where(), model_);
    });
    return rows ? static_cast<std::size_t>(*rows) : 0;
  }

  Status upsert(VectorId id, std::span<const float> vector) override {
    auto normalized = normalized_copy(vector, dimension_, "vector");
    if (!normalized) return normalized.error();
    const VectorId ids[] = {id};
    return db_.write([&](store::Connection& connection) {
      return write_vectors(connection, table_, ids, *normalized, dimension_);
    });
  }

  Status upsert_many(std::span<const VectorId> ids, std::span<const float> rows) override {
    auto normalized = normalized_rows(ids, rows, dimension_);
    if (!normalized) return normalized.error();
    return db_.write([&](store::Connection& connection) {
      return write_vectors(connection, table_, ids, *normalized, dimension_);
    });
  }

  bool remove(VectorId id) override {
    auto removed = db_.write([&](store::Connection& connection) {
      return store::query_one<std::int64_t>(connection,
                                            "DELETE FROM " + table_.vectors + " " + where() + " AND " +
                                                table_.key + " = ?2 RETURNING " + table_.key,
                                            model_, id);
    });
    return removed && removed->has_value();
  }

  bool contains(VectorId id) const override {
    auto found = db_.read([&](store::Connection& connection) {
      return store::query_one<std::int64_t>(
          connection,
          "SELECT " + table_.key + " FROM " + table_.vectors + " " + where() + " AND " + table_.key + " = ?2",
          model_, id);
    });
    return found && found->has_value();
  }

  std::optional<std::vector<float>> get(VectorId id) const override {
    auto stored = db_.read([&](store::Connection& connection) -> Expected<std::optional<std::vector<float>>> {
      auto row = store::query_one<std::vector<float>>(
          connection,
          "SELECT s.embedding FROM " + table_.source + " s JOIN " + table_.vectors + " v ON v." + table_.key +
              " = s." + table_.key + " AND v.version = s." + table_.source_version +
              " WHERE v.model = ?1 AND v.dim = " + std::to_string(dimension_) + " AND s." + table_.key +
              " = ?2",
          model_, id);
      if (!row) return std::move(row).error();
      return std::move(*row);
    });
    if (!stored || !*stored || (*stored)->size() != dimension_ || !normalize(**stored)) return std::nullopt;
    return std::move(**stored);
  }

  void clear() override {
    (void)db_.write([&](store::Connection& connection) {
      return store::exec(connection, "DELETE FROM " + table_.vectors + " " + where(), model_);
    });
  }

  Expected<std::vector<Neighbor>> search(std::span<const float> query, std::size_t k,
                                         const SearchFilter& filter) const override {
    auto normalized = normalized_copy(query, dimension_, "query");
    if (!normalized) return normalized.error();
    if (k == 0) return std::vector<Neighbor>{};
    const std::string query_text = vector_text(*normalized);
    std::optional<std::string> allowed_ids;
    if (filter.allowed != nullptr) {
      if (filter.allowed->empty()) return std::vector<Neighbor>{};
      std::vector<std::int64_t> ids(filter.allowed->begin(), filter.allowed->end());
      std::sort(ids.begin(), ids.end());
      allowed_ids = store::json_ids(ids);
      if (ids.size() <= kExactAllowed) return every_allowed(query_text, *allowed_ids, k, filter);
    }
    // The HNSW scan first; when it returns fewer rows than asked (every row seen, or pgvector's scan limit
    // reached under a selective filter) the same query exactly, so a page is never short. Rows the predicate
    // rejects are made up for by asking for more.
    for (const bool exact : {false, true}) {
      for (std::size_t limit = k + (filter.accept ? 16 : 0);; limit *= 4) {
        auto rows = nearest_rows(query_text, limit, exact, allowed_ids);
        if (!rows) return rows.error();
        TopK best(k);
        std::size_t kept = 0;
        for (const Neighbor& row : *rows) {
          if (!passes(filter, row.id)) continue;
          best.offer(row.distance, row.id);
          ++kept;
        }
        if (kept >= k || rows->size() < limit) {
          if (kept < k && !exact) break;
          return std::move(best).sorted();
        }
      }
    }
    return std::vector<Neighbor>{};  // not reached: the exact pass always returns
  }

 private:
  // Rows of this model and dimension; `?1` is the model.
  std::string where() const { return "WHERE model = ?1 AND dim = " + std::to_string(dimension_); }

  // The cosine distance to `?2` (the query's text form) in the form the HNSW index was built on.
  std::string distance() const {
    const std::string type = "vector(" + std::to_string(dimension_) + ")";
    return "(embedding::" + type + " <=> ?2::" + type + ")";
  }

  // Every allowed row's distance, the k best kept here: exact, ties by id, as the in-memory index.
  Expected<std::vector<Neighbor>> every_allowed(const std::string& query_text, const std::string& ids,
                                                std::size_t k, const SearchFilter& filter) const {
    return db_.read([&](store::Connection& connection) -> Expected<std::vector<Neighbor>> {
      TopK best(k);
      Status read = store::for_each_row(
          connection,
          "SELECT " + table_.key + ", " + distance() + " FROM " + table_.vectors + " " + where() + " AND " +
              table_.key + " IN " + store::id_list(connection, "?3"),
          [&](const store::Statement& row) {
            if (passes(filter, row.int64(0))) best.offer(static_cast<float>(row.real(1)), row.int64(0));
          },
          model_, query_text, ids);
      if (!read) return read.error();
      return std::move(best).sorted();
    });
  }

  // At most `limit` nearest rows, by the HNSW index or (exact) by computing every distance.
  Expected<std::vector<Neighbor>> nearest_rows(const std::string& query_text, std::size_t limit, bool exact,
                                               const std::optional<std::string>& allowed_ids) const {
    return db_.read([&](store::Connection& connection) -> Expected<std::vector<Neighbor>> {
      if (!exact) {
        // ef_search bounds how many rows one graph walk yields; the iterative scan continues the walk while
        // the filter drops rows, up to max_scan_tuples visited.
        const std::size_t ef = std::clamp(std::max(params_.ef_search, limit), std::size_t{1}, kMaxEfSearch);
        const std::string settings = "SET LOCAL hnsw.ef_search = " + std::to_string(ef) +
                                     "; SET LOCAL hnsw.iterative_scan = strict_order; "
                                     "SET LOCAL hnsw.max_scan_tuples = " +
                                     std::to_string(std::max<std::size_t>(20000, 4 * limit));
        if (Status set = connection.exec(settings); !set) return set.error();
      }
      std::string sql =
          "SELECT " + table_.key + ", " + distance() + " FROM " + table_.vectors + " " + where();
      if (allowed_ids) sql += " AND " + table_.key + " IN " + store::id_list(connection, "?4");
      // `+ 0` hides the distance from the planner's index matching: a full, exact ordering.
      sql += exact ? " ORDER BY " + distance() + " + 0, " + table_.key + " LIMIT ?3"
                   : " ORDER BY " + distance() + " LIMIT ?3";
      auto statement = store::prepare(connection, sql, model_, query_text, static_cast<std::int64_t>(limit));
      if (!statement) return statement.error();
      if (allowed_ids) statement->bind(4, *allowed_ids);
      std::vector<Neighbor> rows;
      Status read = store::for_each_row(*statement, [&](const store::Statement& row) {
        rows.push_back({row.int64(0), static_cast<float>(row.real(1))});
      });
      if (!read) return read.error();
      return rows;
    });
  }

  store::Database& db_;
  PgvectorTable table_;
  std::string model_;
  std::size_t dimension_;
  HnswParams params_;
};

}  // namespace

Status prepare_pgvector(store::Database& db, const PgvectorTable& table) {
  if (db.engine() != store::Engine::kPostgres)
    return unavailable("FOCAL_VECTOR_INDEX=pgvector needs a PostgreSQL library (FOCAL_DATABASE_URL)");
  return db.write([&](store::Connection& connection) -> Status {
    if (Status locked = store::exec(connection, "SELECT pg_advisory_xact_lock(?1)", kSetupLock); !locked)
      return locked;
    auto available = store::query_one<std::string>(
        connection, "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'");
    if (!available) return available.error();
    if (!*available)
      return unavailable(
          "FOCAL_VECTOR_INDEX=pgvector: the pgvector extension is not installed on this PostgreSQL server "
          "(install it, e.g. the postgresql-<version>-pgvector package, or use FOCAL_VECTOR_INDEX=memory)");
    if (Status created = connection.exec("CREATE EXTENSION IF NOT EXISTS vector"); !created)
      return unavailable(
          "FOCAL_VECTOR_INDEX=pgvector: cannot create the vector extension (a superuser can run CREATE "
          "EXTENSION vector in the library's database once): " +
          created.error().message);
    auto version = store::query_value<std::string>(
        connection, "SELECT extversion FROM pg_extension WHERE extname = 'vector'");
    if (!version) return version.error();
    const auto parsed = major_minor(*version);
    if (!parsed || *parsed < std::pair{0, 8})
      return unavailable("FOCAL_VECTOR_INDEX=pgvector needs pgvector 0.8.0 or later; this database has " +
                         *version + " (ALTER EXTENSION vector UPDATE)");
    // The vector row follows its source row: deleting an embedding deletes its vector.
    const std::string& key = table.key;
    return connection.exec("CREATE TABLE IF NOT EXISTS " + table.vectors + " (" + key +
                           " BIGINT PRIMARY KEY REFERENCES " + table.source + " (" + key +
                           ") ON DELETE CASCADE, model TEXT NOT NULL, dim INTEGER NOT NULL, version BIGINT "
                           "NOT NULL, embedding vector NOT NULL)");
  });
}

Status index_pgvector(store::Database& db, const PgvectorTable& table, std::size_t dimension,
                      const HnswParams& params) {
  return db.write([&](store::Connection& connection) -> Status {
    if (Status locked = store::exec(connection, "SELECT pg_advisory_xact_lock(?1)", kSetupLock); !locked)
      return locked;
    const std::string size = std::to_string(dimension);
    return connection.exec("CREATE INDEX IF NOT EXISTS " + hnsw_index_name(table, dimension) + " ON " +
                           table.vectors + " USING hnsw ((embedding::vector(" + size +
                           ")) vector_cosine_ops) WITH (m = " + std::to_string(params.m) +
                           ", ef_construction = " + std::to_string(params.ef_construction) +
                           ") WHERE dim = " + size);
  });
}

Status store_pgvector(store::Connection& connection, const PgvectorTable& table, std::int64_t key,
                      std::span<const float> embedding) {
  auto normalized = normalized_copy(embedding, embedding.size(), "embedding");
  if (!normalized) return normalized.error();
  const std::int64_t ids[] = {key};
  return write_vectors(connection, table, ids, *normalized, embedding.size());
}

std::unique_ptr<VectorIndex> make_pgvector_index(store::Database& db, const PgvectorTable& table,
                                                 std::string model, std::size_t dimension,
                                                 const HnswParams& params) {
  return std::make_unique<PgvectorIndex>(db, table, std::move(model), dimension, params);
}

Expected<std::size_t> backfill_pgvector(store::Database& db, const PgvectorTable& table, VectorIndex& index,
                                        const std::string& model) {
  const auto dimension = static_cast<std::int64_t>(index.dimension());
  const std::string& key = table.key;
  const std::string& source = table.source;
  auto stale = db.read([&](store::Connection& connection) {
    return store::query<std::int64_t>(
        connection,
        "SELECT s." + key + " FROM " + source + " s LEFT JOIN " + table.vectors + " v ON v." + key + " = s." +
            key + " AND v.model = s.model AND v.version = s." + table.source_version +
            " WHERE s.model = ?1 AND s.dim = ?2 AND v." + key + " IS NULL ORDER BY s." + key,
        model, dimension);
  });
  if (!stale) return stale.error();
  std::size_t stored = 0;
  for (std::size_t begin = 0; begin < stale->size(); begin += kBackfillChunk) {
    const std::span<const std::int64_t> chunk(stale->data() + begin,
                                              std::min(kBackfillChunk, stale->size() - begin));
    std::vector<VectorId> ids;
    std::vector<float> rows;
    Status read = db.read([&](store::Connection& connection) -> Status {
      return store::for_each_row(
          connection,
          "SELECT " + key + ", embedding FROM " + source + " WHERE model = ?1 AND dim = ?2 AND " + key +
              " IN " + store::id_list(connection, "?3"),
          [&](const store::Statement& row) {
            auto vector = store::floats_of_dim(row, 1, index.dimension());
            if (!vector || !normalize(*vector)) return;  // unusable: never searched, as in memory
            ids.push_back(row.int64(0));
            rows.insert(rows.end(), vector->begin(), vector->end());
          },
          model, dimension, store::json_ids(chunk));
    });
    if (!read) return read.error();
    if (Status written = index.upsert_many(ids, rows); !written) return written.error();
    stored += ids.size();
  }
  return stored;
}

}  // namespace focal::search
