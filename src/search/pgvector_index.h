// SPDX-License-Identifier: AGPL-3.0-or-later
// Vectors kept by PostgreSQL's pgvector extension (FOCAL_VECTOR_INDEX=pgvector), for the components that
// store embeddings: smart search's smart_search rows and people's face_search rows. Each source table of
// embeddings gets a mirror table (its key, model, dim, the source row's version, the normalized vector as
// `vector`) and one HNSW index with cosine distance per embedding dimension. No process holds the vectors
// in memory, and a vector written by one process is searched by every other at once (no catch-up, no saved
// index file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/error.h"
#include "search/vector_index.h"
#include "store/database.h"

namespace focal::search {

// A table of embeddings and the pgvector table that mirrors it. The source has the columns `key` (BIGINT,
// unique), model, dim and embedding (float32 bytes), and `source_version`, which changes whenever a key's
// embedding does: a vector whose version differs from its source row's is stale.
struct PgvectorTable {
  std::string vectors;  // the mirror, created by prepare_pgvector()
  std::string source;
  std::string key;             // the same name in both tables
  std::string source_version;  // copied into the mirror's `version`
};

inline const PgvectorTable kSmartSearchVectors{"smart_search_vector", "smart_search", "asset_id", "version"};

// Creates the extension (pgvector 0.8.0 or later: its iterative index scans keep filtered searches from
// stopping early) and `table`'s mirror when missing, under an advisory lock so that processes starting
// together do not collide. A mirror row is deleted with its source row (ON DELETE CASCADE). kUnavailable
// naming the reason when `db` is SQLite or the extension is missing or older.
Status prepare_pgvector(store::Database& db, const PgvectorTable& table);

// Creates the mirror's HNSW index for `dimension` when missing (same lock). Called after the backfill:
// pgvector builds an index over existing rows far faster than it inserts the rows one by one into an
// existing index.
Status index_pgvector(store::Database& db, const PgvectorTable& table, std::size_t dimension,
                      const HnswParams& params);

// Stores the vector of the source row `key`, which must exist, with that row's model, dim and version.
// Called inside the write transaction that wrote the row, so that both land or neither does.
Status store_pgvector(store::Connection& connection, const PgvectorTable& table, std::int64_t key,
                      std::span<const float> embedding);

// The index over the mirror's rows of `model` with `dimension` values. upsert() stores the vector of an
// existing source row; search() runs in the database (exact over a small allowed set, else HNSW, then exact
// when the index scan returns short of a full page); get() reads the stored embedding.
std::unique_ptr<VectorIndex> make_pgvector_index(store::Database& db, const PgvectorTable& table,
                                                 std::string model, std::size_t dimension,
                                                 const HnswParams& params);

// Stores vectors for the source rows of `model` with `index`'s dimension that have none or a stale one
// (embeddings written before pgvector was switched on, a copied library, a process that crashed between the
// two writes). Returns how many were stored.
Expected<std::size_t> backfill_pgvector(store::Database& db, const PgvectorTable& table, VectorIndex& index,
                                        const std::string& model);

}  // namespace focal::search
