// SPDX-License-Identifier: AGPL-3.0-or-later
// PeopleService's SQL reads and writes of people and faces (lookups, feature faces, deletion).
#include <algorithm>

#include "people/people_service_impl.h"
#include "store/query.h"

namespace focal::people {

using detail::face_of_row;
using detail::kCountedFaces;
using detail::kFaceColumns;
using detail::kPersonColumns;
using detail::make_request;
using detail::person_of_row;
using store::exec;
using store::json_ids;
using store::query;
using store::query_one;

std::string_view to_string(MergeStatus status) {
  switch (status) {
    case MergeStatus::kSuccess:
      return "success";
    case MergeStatus::kNotFound:
      return "not_found";
    case MergeStatus::kFailed:
      return "unknown";
  }
  return "unknown";
}

namespace detail {

Face face_of_row(const store::Statement& row) {
  Face face;
  face.id = row.int64(0);
  face.asset_id = row.int64(1);
  if (!row.is_null(2)) face.person_id = row.int64(2);
  face.image_width = static_cast<int>(row.int64(3));
  face.image_height = static_cast<int>(row.int64(4));
  face.box = Box{static_cast<int>(row.int64(5)), static_cast<int>(row.int64(6)),
                 static_cast<int>(row.int64(7)), static_cast<int>(row.int64(8))};
  face.source = face_source_from_string(row.text(9)).value_or(FaceSource::kManual);
  face.score = row.real(10);
  face.has_embedding = row.int64(11) != 0;
  return face;
}

Person person_of_row(const store::Statement& row, const std::filesystem::path& data_dir, int count_column) {
  Person person;
  person.id = row.int64(0);
  person.name = row.text(1);
  if (!row.is_null(2)) person.birth_date = row.text(2);
  person.is_hidden = row.int64(3) != 0;
  person.is_favorite = row.int64(4) != 0;
  if (!row.is_null(5)) person.color = row.text(5);
  const std::string thumbnail = row.text(6);
  if (!thumbnail.empty()) person.thumbnail_path = (data_dir / thumbnail).string();
  if (!row.is_null(7)) person.feature_face_id = row.int64(7);
  person.created_at_ms = row.int64(8);
  person.updated_at_ms = row.int64(9);
  if (count_column >= 0 && !row.is_null(count_column)) person.face_count = row.int64(count_column);
  return person;
}

jobs::JobRequest make_request(std::string_view name, nlohmann::json data, int priority) {
  jobs::JobRequest request(std::string(name), std::move(data));
  request.priority = priority;
  return request;
}

}  // namespace detail

jobs::JobRequest PeopleService::Impl::thumbnail_job(PersonId person) const {
  jobs::JobRequest request = make_request(jobs::job::kPersonGenerateThumbnail, {{"id", person}}, 1);
  request.dedupe_key = "PersonGenerateThumbnail:" + std::to_string(person);
  return request;
}

Expected<std::optional<Person>> PeopleService::Impl::find_person(store::Connection& c, PersonId id,
                                                                 std::optional<OwnerId> owner) const {
  return query_one(
      c,
      "SELECT " + std::string(kPersonColumns) + ", counts.faces FROM person p LEFT JOIN (" +
          std::string(kCountedFaces) + ") counts ON counts.person_id = p.id WHERE p.id = ?1 " +
          "AND (?2 = 0 OR p.owner_id = ?3)",
      [&](const store::Statement& row) { return person_of_row(row, options.data_dir, 10); }, id,
      owner.has_value(), owner.value_or(0));
}

Expected<Person> PeopleService::Impl::require_person(store::Connection& c, PersonId id,
                                                     std::optional<OwnerId> owner) const {
  auto person = find_person(c, id, owner);
  if (!person) return std::move(person).error();
  if (!*person) return not_found("Person not found");
  return **person;
}

Expected<std::optional<Face>> PeopleService::Impl::find_face(store::Connection& c, FaceId id,
                                                             std::optional<OwnerId> owner) const {
  return query_one(
      c,
      "SELECT " + std::string(kFaceColumns) +
          " FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE f.id = ?1 AND f.deleted_at IS "
          "NULL AND (?2 = 0 OR a.owner_id = ?3)",
      face_of_row, id, owner.has_value(), owner.value_or(0));
}

Expected<std::optional<std::vector<float>>> PeopleService::Impl::face_embedding(store::Connection& c,
                                                                                FaceId id) const {
  return query_one<std::vector<float>>(c, "SELECT embedding FROM face_search WHERE face_id = ?", id);
}

Status PeopleService::Impl::refresh_feature_face(store::Connection& c, PersonId person) {
  auto found = query_one<FaceId>(
      c,
      "SELECT f.id FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE f.person_id = ? "
      "AND f.deleted_at IS NULL AND f.is_visible = 1 AND a.deleted_at IS NULL ORDER BY f.id LIMIT 1",
      person);
  if (!found) return found.error();
  const std::optional<FaceId> chosen = *found;
  Status status = exec(c, "UPDATE person SET feature_face_id = ?, updated_at = ? WHERE id = ?", chosen,
                       store::now_ms(), person);
  if (!status) return status;
  if (chosen) {
    auto queued = queue.enqueue(c, thumbnail_job(person));
    if (!queued) return queued.error();
  }
  return {};
}

Expected<std::optional<FaceId>> PeopleService::Impl::feature_face_of(store::Connection& c,
                                                                     PersonId person) const {
  auto feature =
      query_one<std::optional<FaceId>>(c, "SELECT feature_face_id FROM person WHERE id = ?", person);
  if (!feature) return std::move(feature).error();
  return feature->value_or(std::nullopt);
}

Status PeopleService::Impl::fix_feature_faces(store::Connection& c, PersonId target,
                                              std::span<const PersonId> sources,
                                              std::span<const FaceId> moved) {
  auto target_feature = feature_face_of(c, target);
  if (!target_feature) return target_feature.error();
  if (!*target_feature) {
    if (Status s = refresh_feature_face(c, target); !s) return s;
  }
  for (PersonId source : sources) {
    if (source == target) continue;
    auto feature = feature_face_of(c, source);
    if (!feature) return feature.error();
    if (!*feature || std::find(moved.begin(), moved.end(), **feature) != moved.end()) {
      if (Status s = refresh_feature_face(c, source); !s) return s;
    }
  }
  return {};
}

Status PeopleService::Impl::delete_people(store::Connection& c, std::span<const PersonId> ids) {
  auto files = query<std::string>(
      c,
      "SELECT thumbnail_path FROM person WHERE id IN " + store::id_list(c, "?") + " AND thumbnail_path != ''",
      json_ids(ids));
  if (!files) return files.error();
  Status status = exec(c, "DELETE FROM person WHERE id IN " + store::id_list(c, "?"), json_ids(ids));
  if (!status) return status;
  for (const std::string& file : *files) {
    std::error_code ec;
    std::filesystem::remove(options.data_dir / file, ec);
  }
  return {};
}

Expected<std::int64_t> PeopleService::Impl::cleanup() {
  return db.write([&](store::Connection& c) -> Expected<std::int64_t> {
    // NOT EXISTS, so people with no face rows at all go too (Immich's LEFT JOIN query misses them).
    auto empty = query<PersonId>(
        c,
        "SELECT p.id FROM person p WHERE NOT EXISTS (SELECT 1 FROM asset_face f WHERE f.person_id = p.id "
        "AND f.deleted_at IS NULL AND f.is_visible = 1)");
    if (!empty) return std::move(empty).error();
    if (!empty->empty()) {
      if (Status deleted = delete_people(c, *empty); !deleted) return deleted.error();
    }
    return static_cast<std::int64_t>(empty->size());
  });
}

}  // namespace focal::people
