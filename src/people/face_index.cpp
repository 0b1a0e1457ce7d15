// SPDX-License-Identifier: AGPL-3.0-or-later
#include "people/face_index.h"

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "core/logging.h"
#include "people/sql.h"
#include "search/pgvector_index.h"

namespace focal::people::detail {

namespace {

// face_search's mirror in pgvector. A face's embedding never changes in place: a new one is a new row with a
// new seq, so seq versions the vector.
const search::PgvectorTable kFaceSearchVectors{"face_search_vector", "face_search", "face_id", "seq"};

}  // namespace

FaceIndex::FaceIndex(store::Database& db, FaceIndexOptions options) : db_(db), options_(options) {}

Status FaceIndex::sync(const std::string& model) {
  std::lock_guard lock(mutex_);
  if (model != model_) {
    index_.reset();
    last_seq_ = 0;
    holes_.clear();
    model_ = model;
  }
  if (options_.pgvector) return index_ ? Status{} : open_pgvector();
  return load_newer_rows();
}

Status FaceIndex::open_pgvector() {
  if (!pgvector_prepared_) {
    if (Status prepared = search::prepare_pgvector(db_, kFaceSearchVectors); !prepared) return prepared;
    pgvector_prepared_ = true;
  }
  auto dimension = db_.read([&](store::Connection& c) { return stored_face_dimension(c, model_); });
  if (!dimension) return dimension.error();
  if (!*dimension) return {};  // no face of this model has an embedding yet
  const search::HnswParams params;
  auto fresh = search::make_pgvector_index(db_, kFaceSearchVectors, model_, **dimension, params);
  const auto start = std::chrono::steady_clock::now();
  auto stored = search::backfill_pgvector(db_, kFaceSearchVectors, *fresh, model_);
  if (!stored) return stored.error();
  if (Status indexed = search::index_pgvector(db_, kFaceSearchVectors, **dimension, params); !indexed)
    return indexed;
  if (*stored > 0)
    spdlog::info("people: {} face embeddings of {} stored and indexed in pgvector in {:.2f} s", *stored,
                 model_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  index_ = std::move(fresh);
  return {};
}

Status FaceIndex::store_vector(store::Connection& c, FaceId face, std::span<const float> embedding) const {
  if (!options_.pgvector) return {};
  return search::store_pgvector(c, kFaceSearchVectors, face, embedding);
}

Status FaceIndex::load_newer_rows() {
  // PostgreSQL hands out seq numbers at insert, and the transactions of several processes commit out of that
  // order: a row numbered below the last one seen may still appear. The numbers skipped between the rows
  // seen (holes) are asked for again at every sync until their row appears or kHoleLifetime passes, far
  // longer than any write transaction: a hole that stays is a rolled-back insert, a number an ON CONFLICT
  // used up, or a row deleted before it was seen. A run longer than kMaxHoleRun is deleted rows, not open
  // transactions (each holds a photo's faces), and a first load records only holes near its end. SQLite
  // commits one writer at a time, in seq order: no holes.
  constexpr std::int64_t kMaxHoleRun = 256;
  constexpr std::int64_t kFirstLoadHoles = 1024;
  constexpr auto kHoleLifetime = std::chrono::minutes(10);
  const bool track_holes = db_.engine() == store::Engine::kPostgres;
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(holes_, [&](const auto& hole) { return now - hole.second > kHoleLifetime; });
  std::vector<std::int64_t> asked;
  asked.reserve(holes_.size());
  for (const auto& [seq, since] : holes_) asked.push_back(seq);
  const bool first_load = last_seq_ == 0;
  std::vector<std::int64_t> new_holes;
  // Rows of other models are read for their seq only: they are not holes.
  Status read = db_.read([&](store::Connection& c) -> Status {
    return store::for_each_row(
        c,
        "SELECT seq, face_id, CASE WHEN model = ?1 THEN embedding END, dim FROM face_search "
        "WHERE seq > ?2 OR seq IN " +
            store::id_list(c, "?3") + " ORDER BY seq",
        [&](const store::Statement& row) -> Status {
          const std::int64_t seq = row.int64(0);
          if (seq <= last_seq_) {
            holes_.erase(seq);
          } else {
            if (track_holes && seq - last_seq_ - 1 <= kMaxHoleRun) {
              for (std::int64_t missing = last_seq_ + 1; missing < seq; ++missing)
                new_holes.push_back(missing);
            }
            last_seq_ = seq;
          }
          if (row.is_null(2)) return {};  // another model's row
          index_row(row.int64(1), row, static_cast<std::size_t>(row.int64(3)));
          return {};
        },
        model_, last_seq_, json_ids(asked));
  });
  // Also after a failed read: last_seq_ moved past these numbers.
  for (const std::int64_t missing : new_holes) {
    if (!first_load || missing > last_seq_ - kFirstLoadHoles) holes_.emplace(missing, now);
  }
  return read;
}

void FaceIndex::index_row(FaceId face, const store::Statement& row, std::size_t dimension) {
  if (!index_ && dimension > 0)
    index_ = search::make_index(search::IndexOptions{dimension, options_.exact_threshold, {}});
  auto embedding = index_ ? store::floats_of_dim(row, 2, index_->dimension())
                          : Expected<std::vector<float>>(internal_error("empty embedding"));
  if (!embedding) {
    spdlog::warn("people: face {} of model {} has an unusable embedding: {}", face, model_,
                 embedding.error().message);
    return;
  }
  if (Status added = index_->upsert(face, *embedding); !added)
    spdlog::warn("people: face {} not indexed: {}", face, added.error().message);
}

Status FaceIndex::reload() {
  std::lock_guard lock(mutex_);
  index_.reset();
  last_seq_ = 0;
  holes_.clear();
  return options_.pgvector ? open_pgvector() : load_newer_rows();
}

std::shared_ptr<search::VectorIndex> FaceIndex::current() const {
  std::lock_guard lock(mutex_);
  return index_;
}

void FaceIndex::remove(FaceId id) {
  if (options_.pgvector) return;  // the vector row went with its face_search row (cascade)
  if (auto index = current()) index->remove(id);
}

std::size_t FaceIndex::size() const {
  const auto index = current();
  return index ? index->size() : 0;
}

Expected<std::vector<FaceMatch>> FaceIndex::search(const std::string& model, const FaceQuery& q) {
  if (Status synced = sync(model); !synced) return synced.error();
  const auto index = current();
  if (!index) return std::vector<FaceMatch>{};  // no face of this model has an embedding yet
  if (q.embedding.size() != index->dimension()) {
    return bad_request("Face embedding has " + std::to_string(q.embedding.size()) +
                       " values, but the faces of " + model + " have " + std::to_string(index->dimension()) +
                       ": embeddings of different sizes cannot be compared");
  }
  const std::size_t k = static_cast<std::size_t>(std::max(q.k, 1));
  std::size_t window = std::max<std::size_t>(k * 4, 16);
  while (true) {
    auto nearest = index->search(q.embedding, window);
    if (!nearest) return std::move(nearest).error();
    std::vector<std::int64_t> ids;
    for (const search::Neighbor& n : *nearest) {
      if (n.distance <= q.max_distance) ids.push_back(n.id);
    }
    // Every candidate within the threshold, re-checked against the tables.
    std::unordered_map<FaceId, std::optional<PersonId>> passing;
    if (!ids.empty()) {
      Status checked = db_.read([&](store::Connection& c) -> Status {
        return store::for_each_row(
            c,
            "SELECT f.id, f.person_id FROM asset_face f JOIN asset a ON a.id = f.asset_id "
            "LEFT JOIN person p ON p.id = f.person_id "
            "WHERE f.id IN " +
                store::id_list(c, "?1") +
                " AND f.deleted_at IS NULL AND f.is_visible = 1 "
                "AND a.deleted_at IS NULL AND a.visibility IN ('timeline', 'archive') "
                "AND (?2 = 0 OR f.person_id IS NOT NULL) "
                "AND (?3 = '' OR p.birth_date IS NULL OR p.birth_date <= ?3) AND (?4 = 0 OR a.owner_id = ?5)",
            [&](const store::Statement& row) {
              passing[row.int64(0)] = store::column<std::optional<PersonId>>(row, 1);
            },
            json_ids(ids), q.has_person, q.min_birth_date, q.owner_id.has_value(), q.owner_id.value_or(0));
      });
      if (!checked) return checked.error();
    }
    std::vector<FaceMatch> matches;
    for (const search::Neighbor& n : *nearest) {
      auto it = passing.find(n.id);
      if (it == passing.end() || n.distance > q.max_distance) continue;
      matches.push_back(FaceMatch{n.id, it->second, n.distance});
      if (matches.size() == k) break;
    }
    const bool exhausted = nearest->size() < window || ids.size() < nearest->size();
    if (matches.size() >= k || exhausted) return matches;
    window *= 4;
  }
}

Expected<std::optional<FaceForRecognition>> SqlRecognitionStore::load_face(FaceId id) {
  return db_.read([&](store::Connection& c) -> Expected<std::optional<FaceForRecognition>> {
    std::optional<FaceForRecognition> face;
    Status status = store::for_each_row(
        c,
        "SELECT f.asset_id, f.source_type, f.person_id, a.visibility, a.file_created_at, fs.embedding, "
        "a.owner_id "
        "FROM asset_face f JOIN asset a ON a.id = f.asset_id "
        "LEFT JOIN face_search fs ON fs.face_id = f.id AND fs.model = ?2 "
        "WHERE f.id = ?1 AND f.deleted_at IS NULL AND a.deleted_at IS NULL",
        [&](const store::Statement& row) {
          FaceForRecognition out;
          out.id = id;
          out.asset_id = row.int64(0);
          out.source = face_source_from_string(row.text(1)).value_or(FaceSource::kManual);
          if (!row.is_null(2)) out.person_id = row.int64(2);
          out.asset_on_timeline = row.text(3) == "timeline";
          out.asset_date = date_of_ms(row.int64(4));
          out.owner_id = row.int64(6);
          if (!row.is_null(5)) out.embedding = row.floats(5);
          face = std::move(out);
        },
        id, model_);
    if (!status) return status.error();
    return face;
  });
}

Expected<std::optional<std::size_t>> stored_face_dimension(store::Connection& c, const std::string& model) {
  auto dim = store::query_one<std::int64_t>(
      c, "SELECT dim FROM face_search WHERE model = ? ORDER BY seq LIMIT 1", model);
  if (!dim) return dim.error();
  if (!*dim) return std::optional<std::size_t>{};
  return std::optional<std::size_t>{static_cast<std::size_t>(**dim)};
}

Expected<PersonId> SqlRecognitionStore::create_person(FaceId feature_face) {
  return db_.write([&](store::Connection& c) -> Expected<PersonId> {
    const std::int64_t now = store::now_ms();
    // The person belongs to the owner of the face's asset.
    Status inserted =
        store::exec(c,
                    "INSERT INTO person (created_at, updated_at, feature_face_id, owner_id) "
                    "SELECT ?, ?, f.id, a.owner_id FROM asset_face f JOIN asset a ON a.id = f.asset_id "
                    "WHERE f.id = ?",
                    now, now, feature_face);
    if (!inserted) return inserted.error();
    if (c.changes() == 0) return not_found("Face " + std::to_string(feature_face) + " not found");
    return c.last_insert_rowid();
  });
}

Status SqlRecognitionStore::assign_face(FaceId face, PersonId person) {
  return db_.write([&](store::Connection& c) -> Status {
    return store::exec(c, "UPDATE asset_face SET person_id = ?, updated_at = ? WHERE id = ?", person,
                       store::now_ms(), face);
  });
}

}  // namespace focal::people::detail
