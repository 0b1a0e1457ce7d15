// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal: smart-search vectors kept by PostgreSQL's pgvector extension (FOCAL_VECTOR_INDEX=pgvector). The
// table smart_search_vector mirrors smart_search's embeddings as pgvector values (asset_id, model, dim, the
// row's version, the normalized vector); one HNSW index with cosine distance per embedding dimension serves
// the nearest-neighbour queries. No process holds the vectors in memory, and a vector written by one process
// is searched by every other at once (no catch-up, no saved index file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/error.h"
#include "search/vector_index.h"
#include "store/database.h"

namespace focal::search::detail {

// Creates the extension (pgvector 0.8.0 or later: its iterative index scans keep filtered searches from
// stopping early) and the smart_search_vector table when missing, under an advisory lock so that processes
// starting together do not collide. kUnavailable naming the reason when `db` is SQLite or the extension is
// missing or older.
Status prepare_pgvector(store::Database& db);

// Creates the HNSW index for `dimension` when missing (same lock). Called after the backfill: pgvector builds
// an index over existing rows far faster than it inserts the rows one by one into an existing index.
Status index_pgvector(store::Database& db, std::size_t dimension, const HnswParams& params);

// Stores the vector of asset_id's smart_search row, which must exist, with that row's model, dim and version.
// Called inside the write transaction that wrote the row, so that both land or neither does.
Status store_pgvector(store::Connection& connection, std::int64_t asset_id, std::span<const float> embedding);

// The index over smart_search_vector's rows of `model` with `dimension` values. upsert() stores the vector of
// an existing smart_search row; search() runs in the database (exact over a small allowed set, else HNSW,
// then exact when the index scan returns short of a full page); get() reads the stored embedding.
std::unique_ptr<VectorIndex> make_pgvector_index(store::Database& db, std::string model,
                                                 std::size_t dimension, const HnswParams& params);

// Stores vectors for the smart_search rows of `model` with `dimension` values that have none or a stale one
// (embeddings written before pgvector was switched on, a copied library, a process that crashed between the
// two writes). Returns how many were stored.
Expected<std::size_t> backfill_pgvector(store::Database& db, VectorIndex& index, const std::string& model);

}  // namespace focal::search::detail
