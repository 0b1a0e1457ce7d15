// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal: the face k-NN (spec §4.2) on top of search::VectorIndex, with the SQL filters applied to the
// candidates, and the RecognitionStore the clustering job runs on.
#pragma once

#include <memory>
#include <mutex>

#include "people/recognition.h"
#include "search/vector_index.h"
#include "store/database.h"

namespace focal::people::detail {

inline constexpr std::size_t kFaceDimension = 512;

// The in-memory index over face_search. It is a cache: rows inserted by any process are picked up by sync()
// (face_search.seq only grows); rows deleted elsewhere are harmless because every candidate is re-checked in
// SQL before it is returned.
class FaceIndex {
 public:
  FaceIndex(store::Database& db, std::size_t exact_threshold);
  // Loads face_search rows newer than the last one seen.
  Status sync();
  // Forgets everything and reloads (after a detection Reset).
  Status reload();
  void remove(FaceId id);
  std::size_t size() const { return index_->size(); }

  // The faces nearest to `embedding` (spec §4.2 with §10.5 fixed): only non-deleted, visible faces on
  // non-deleted timeline/archive assets; `has_person` and the birth-date filter as upstream. Candidates are
  // taken from the index in growing windows until k pass the filters or the window passes max_distance.
  Expected<std::vector<FaceMatch>> search(const FaceQuery& query);

 private:
  store::Database& db_;
  std::unique_ptr<search::VectorIndex> index_;
  std::mutex sync_mutex_;
  std::int64_t last_seq_ = 0;
};

// RecognitionStore on SQLite + FaceIndex.
class SqlRecognitionStore final : public RecognitionStore {
 public:
  SqlRecognitionStore(store::Database& db, FaceIndex& index) : db_(db), index_(index) {}
  Expected<std::optional<FaceForRecognition>> load_face(FaceId id) override;
  Expected<std::vector<FaceMatch>> search_faces(const FaceQuery& query) override {
    return index_.search(query);
  }
  Expected<PersonId> create_person(FaceId feature_face) override;
  Status assign_face(FaceId face, PersonId person) override;

 private:
  store::Database& db_;
  FaceIndex& index_;
};

}  // namespace focal::people::detail
