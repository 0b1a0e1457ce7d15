// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal: the face k-NN (Immich's searchFaces) on top of search::VectorIndex, with the SQL filters applied
// to the candidates, and the RecognitionStore the clustering job runs on.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "people/recognition.h"
#include "search/vector_index.h"
#include "store/database.h"

namespace focal::people::detail {

struct FaceIndexOptions {
  std::size_t exact_threshold = 20000;  // in memory: exact k-NN below this many faces, HNSW above
  bool pgvector = false;                // the vectors in PostgreSQL's pgvector instead of in memory
};

// The index over one face model's face_search rows. Face models differ in embedding size (buffalo packs
// 512, MobileFaceNet 128) and their embeddings are not comparable, so only the configured model's rows are
// indexed; the index takes its dimension from the first of them. Rows deleted elsewhere are harmless because
// every candidate is re-checked in SQL before it is returned.
//  - In memory (the default) it is a cache: rows inserted by any process are picked up by sync() by their
//    seq, including rows that commit after higher-numbered ones (PostgreSQL).
//  - With pgvector the vectors live in face_search_vector, written with their face_search row (store_vector)
//    and searched there by every process; sync() only backfills rows stored without one, at start or when
//    the model changes.
class FaceIndex {
 public:
  FaceIndex(store::Database& db, FaceIndexOptions options);
  // Loads `model`'s face_search rows newer than the last one seen; a different model than last time starts
  // over with that model's rows.
  Status sync(const std::string& model);
  // Forgets everything and reloads the current model's rows (after a detection Reset).
  Status reload();
  // With pgvector, stores the vector of `face`'s face_search row inside the transaction that wrote the row;
  // nothing in memory, where sync() picks the row up.
  Status store_vector(store::Connection& c, FaceId face, std::span<const float> embedding) const;
  void remove(FaceId id);
  std::size_t size() const;

  // The faces of `model` nearest to `embedding` (Immich's searchFaces plus the filters it lacks): only
  // non-deleted, visible faces on non-deleted timeline/archive assets; `has_person` and the birth-date
  // filter as upstream. Candidates are taken from the index in growing windows until k pass the filters or
  // the window passes max_distance. kBadRequest when the query's size is not the model's embedding size.
  Expected<std::vector<FaceMatch>> search(const std::string& model, const FaceQuery& query);

 private:
  // With mutex_ held:
  Status load_newer_rows();
  // Adds the embedding in column 2 of `row` (from face_search) to the index, which takes its dimension from
  // the first one.
  void index_row(FaceId face, const store::Statement& row, std::size_t dimension);
  Status open_pgvector();
  std::shared_ptr<search::VectorIndex> current() const;

  store::Database& db_;
  const FaceIndexOptions options_;
  mutable std::mutex mutex_;                    // guards the members below
  std::shared_ptr<search::VectorIndex> index_;  // null until the model's first embedding
  std::string model_;
  std::int64_t last_seq_ = 0;
  // PostgreSQL: seq numbers below last_seq_ not seen yet (a transaction may still commit them), and since
  // when they have been missing.
  std::map<std::int64_t, std::chrono::steady_clock::time_point> holes_;
  bool pgvector_prepared_ = false;
};

// The embedding size of `model`'s stored faces; nullopt when it has none yet.
Expected<std::optional<std::size_t>> stored_face_dimension(store::Connection& c, const std::string& model);

// RecognitionStore on SQLite + FaceIndex.
class SqlRecognitionStore final : public RecognitionStore {
 public:
  // Recognizes with the embeddings of face model `model`.
  SqlRecognitionStore(store::Database& db, FaceIndex& index, std::string model)
      : db_(db), index_(index), model_(std::move(model)) {}
  Expected<std::optional<FaceForRecognition>> load_face(FaceId id) override;
  Expected<std::vector<FaceMatch>> search_faces(const FaceQuery& query) override {
    return index_.search(model_, query);
  }
  Expected<PersonId> create_person(FaceId feature_face) override;
  Status assign_face(FaceId face, PersonId person) override;

 private:
  store::Database& db_;
  FaceIndex& index_;
  std::string model_;
};

}  // namespace focal::people::detail
