// SPDX-License-Identifier: AGPL-3.0-or-later
// PeopleService's operations behind the people API: listing, editing, merging and reassigning people and
// faces.
#include <algorithm>
#include <tuple>
#include <unordered_set>

#include "people/people_service_impl.h"
#include "people/sql.h"
#include "store/query.h"

namespace focal::people {

using detail::face_of_row;
using detail::kCountedFaces;
using detail::kFaceColumns;
using detail::kPersonColumns;
using detail::person_of_row;
using store::exec;
using store::for_each_row;
using store::json_ids;
using store::query;
using store::query_one;

namespace {

// The text, or nullopt (stored as NULL) when it is missing or empty.
std::optional<std::string_view> non_empty(const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  return std::string_view(*text);
}

Status validate_fields(const PersonUpdate& fields) {
  if (fields.birth_date && !fields.birth_date->empty()) {
    if (!detail::is_valid_date(*fields.birth_date))
      return bad_request("birthDate must be a date (YYYY-MM-DD)");
    if (*fields.birth_date > detail::date_of_ms(store::now_ms())) {
      return bad_request("Birth date cannot be in the future");
    }
  }
  if (fields.name && fields.name->size() > 1000) return bad_request("name must be at most 1000 characters");
  if (fields.color && fields.color->size() > 64) return bad_request("color must be at most 64 characters");
  return {};
}

}  // namespace

Expected<PeoplePage> PeopleService::list(OwnerId owner, const PeopleQuery& q) const {
  if (q.page < 1) return bad_request("page must be at least 1");
  if (q.size < 1 || q.size > 1000) return bad_request("size must be between 1 and 1000");
  return impl_->db.read([&](store::Connection& c) -> Expected<PeoplePage> {
    PeoplePage page;
    auto totals = query_one<std::int64_t, std::int64_t>(
        c,
        "SELECT count(*), coalesce(sum(p.is_hidden), 0) FROM person p JOIN (" + std::string(kCountedFaces) +
            ") counts ON counts.person_id = p.id WHERE p.owner_id = ?",
        owner);
    if (!totals) return std::move(totals).error();
    if (*totals) std::tie(page.total, page.hidden) = **totals;
    std::optional<std::vector<float>> reference;
    if (q.closest_person || q.closest_face) {
      std::optional<FaceId> face = q.closest_face;
      if (q.closest_person) {
        auto person = impl_->require_person(c, *q.closest_person, owner);
        if (!person) return std::move(person).error();
        if (!person->feature_face_id) return not_found("Person not found");
        face = person->feature_face_id;
      }
      auto owned = impl_->find_face(c, *face, owner);
      if (!owned) return std::move(owned).error();
      if (!*owned) return not_found("Face not found");
      auto embedding = impl_->face_embedding(c, *face);
      if (!embedding) return std::move(embedding).error();
      if (!*embedding) return not_found("Face not found");
      reference = std::move(*embedding);
    }
    const std::string sql =
        "SELECT " + std::string(kPersonColumns) + ", counts.faces, fs.embedding FROM person p JOIN (" +
        std::string(kCountedFaces) +
        ") counts ON counts.person_id = p.id LEFT JOIN face_search fs ON fs.face_id = p.feature_face_id "
        "WHERE (p.name != '' OR counts.faces >= ?1) AND (?2 = 1 OR p.is_hidden = 0) AND p.owner_id = ?3 "
        "ORDER BY p.is_hidden ASC, p.is_favorite DESC, (p.name = '') ASC, counts.faces DESC, "
        "CASE WHEN p.name = '' THEN 1 ELSE 0 END, lower(p.name) ASC, p.created_at ASC, p.id ASC";
    std::vector<std::pair<Person, double>> rows;
    Status status = for_each_row(
        c, sql,
        [&](const store::Statement& row) {
          double distance = 0;
          if (reference) {
            // Another face model's embedding (another size) is not comparable: such people sort last.
            const std::vector<float> embedding = row.floats(11);
            distance = embedding.size() == reference->size() ? cosine_distance(*reference, embedding) : 3.0;
          }
          rows.emplace_back(person_of_row(row, impl_->options.data_dir, 10), distance);
        },
        q.min_faces, q.with_hidden, owner);
    if (!status) return status.error();
    if (reference) {
      std::stable_sort(rows.begin(), rows.end(),
                       [](const auto& a, const auto& b) { return a.second < b.second; });
    }
    const std::size_t offset = static_cast<std::size_t>(q.page - 1) * static_cast<std::size_t>(q.size);
    for (std::size_t i = offset; i < rows.size() && i < offset + static_cast<std::size_t>(q.size); ++i) {
      page.people.push_back(std::move(rows[i].first));
    }
    page.has_next_page = rows.size() > offset + static_cast<std::size_t>(q.size);
    return page;
  });
}

Expected<Person> PeopleService::get(OwnerId owner, PersonId id) const {
  return impl_->db.read([&](store::Connection& c) { return impl_->require_person(c, id, owner); });
}

Expected<Person> PeopleService::create_person(OwnerId owner, const PersonUpdate& fields) {
  if (Status valid = validate_fields(fields); !valid) return valid.error();
  if (fields.feature_face_asset_id) return bad_request("A new person has no faces to feature");
  auto id = impl_->db.write([&](store::Connection& c) -> Expected<PersonId> {
    const std::int64_t now = store::now_ms();
    Status status = exec(
        c,
        "INSERT INTO person (created_at, updated_at, name, birth_date, is_hidden, is_favorite, color, "
        "owner_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        now, now, fields.name.value_or(""), non_empty(fields.birth_date), fields.is_hidden.value_or(false),
        fields.is_favorite.value_or(false), non_empty(fields.color), owner);
    if (!status) return status.error();
    return c.last_insert_rowid();
  });
  if (!id) return std::move(id).error();
  return get(owner, *id);
}

Expected<Person> PeopleService::update(OwnerId owner, PersonId id, const PersonUpdate& fields) {
  if (Status valid = validate_fields(fields); !valid) return valid.error();
  Status written = impl_->db.write([&](store::Connection& c) -> Status {
    auto person = impl_->require_person(c, id, owner);
    if (!person) return person.error();
    const std::int64_t now = store::now_ms();
    auto set_text = [&](std::string_view column, const std::optional<std::string>& value,
                        bool empty_is_null) -> Status {
      if (!value) return {};
      const std::optional<std::string_view> stored =
          empty_is_null ? non_empty(value) : std::string_view(*value);
      return exec(c, "UPDATE person SET " + std::string(column) + " = ?, updated_at = ? WHERE id = ?", stored,
                  now, id);
    };
    auto set_flag = [&](std::string_view column, std::optional<bool> value) -> Status {
      if (!value) return {};
      return exec(c, "UPDATE person SET " + std::string(column) + " = ?, updated_at = ? WHERE id = ?", *value,
                  now, id);
    };
    for (Status s : {set_text("name", fields.name, false), set_text("birth_date", fields.birth_date, true),
                     set_text("color", fields.color, true), set_flag("is_hidden", fields.is_hidden),
                     set_flag("is_favorite", fields.is_favorite)}) {
      if (!s) return s;
    }
    if (fields.feature_face_asset_id) {
      auto face = query_one<FaceId>(
          c,
          "SELECT f.id FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE f.person_id = ? AND "
          "f.asset_id = ? "
          "AND f.deleted_at IS NULL AND a.deleted_at IS NULL AND a.status != 'offline' ORDER BY f.id LIMIT 1",
          id, *fields.feature_face_asset_id);
      if (!face) return face.error();
      if (!*face) return bad_request("Invalid assetId for feature face or asset is offline");
      Status status =
          exec(c, "UPDATE person SET feature_face_id = ?, updated_at = ? WHERE id = ?", **face, now, id);
      if (!status) return status;
      auto queued = impl_->queue.enqueue(c, impl_->thumbnail_job(id));
      if (!queued) return queued.error();
    }
    return {};
  });
  if (!written) return written.error();
  return get(owner, id);
}

Status PeopleService::remove(OwnerId owner, PersonId id) {
  return impl_->db.write([&](store::Connection& c) -> Status {
    auto person = impl_->require_person(c, id, owner);
    if (!person) return person.error();
    const PersonId ids[] = {id};
    return impl_->delete_people(c, ids);
  });
}

Expected<std::vector<MergeResult>> PeopleService::merge(OwnerId owner, PersonId target,
                                                        std::span<const PersonId> sources) {
  if (std::find(sources.begin(), sources.end(), target) != sources.end()) {
    return bad_request("Cannot merge a person into themselves");
  }
  auto exists = get(owner, target);
  if (!exists) return std::move(exists).error();
  std::vector<MergeResult> results;
  for (PersonId source : sources) {
    Status merged = impl_->db.write([&](store::Connection& c) -> Status {
      auto from = impl_->require_person(c, source, owner);
      if (!from) return from.error();
      auto into = impl_->require_person(c, target, owner);
      if (!into) return into.error();
      const std::int64_t now = store::now_ms();
      if (into->name.empty() && !from->name.empty()) {
        Status s =
            exec(c, "UPDATE person SET name = ?, updated_at = ? WHERE id = ?", from->name, now, target);
        if (!s) return s;
      }
      if (!into->birth_date && from->birth_date) {
        Status s = exec(c, "UPDATE person SET birth_date = ?, updated_at = ? WHERE id = ?", *from->birth_date,
                        now, target);
        if (!s) return s;
      }
      Status moved = exec(c, "UPDATE asset_face SET person_id = ?, updated_at = ? WHERE person_id = ?",
                          target, now, source);
      if (!moved) return moved;
      const PersonId gone[] = {source};
      if (Status s = impl_->delete_people(c, gone); !s) return s;
      return impl_->fix_feature_faces(c, target, {}, {});
    });
    if (merged) {
      results.push_back({source, MergeStatus::kSuccess, ""});
    } else if (merged.error().kind == ErrorKind::kNotFound) {
      results.push_back({source, MergeStatus::kNotFound, merged.error().message});
    } else {
      results.push_back({source, MergeStatus::kFailed, merged.error().message});
    }
  }
  return results;
}

Expected<std::int64_t> PeopleService::asset_count(OwnerId owner, PersonId id) const {
  return impl_->db.read([&](store::Connection& c) -> Expected<std::int64_t> {
    auto person = impl_->require_person(c, id, owner);
    if (!person) return std::move(person).error();
    return store::query_value<std::int64_t>(
        c,
        "SELECT count(DISTINCT f.asset_id) FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE "
        "f.person_id = ? "
        "AND f.deleted_at IS NULL AND f.is_visible = 1 AND a.deleted_at IS NULL AND a.visibility = "
        "'timeline'",
        id);
  });
}

Expected<std::filesystem::path> PeopleService::thumbnail(OwnerId owner, PersonId id) const {
  auto person = get(owner, id);
  if (!person) return std::move(person).error();
  if (person->thumbnail_path.empty() || !std::filesystem::exists(person->thumbnail_path)) {
    return not_found("Person " + std::to_string(id) + " has no thumbnail");
  }
  return std::filesystem::path(person->thumbnail_path);
}

Expected<std::vector<Person>> PeopleService::search_by_name(OwnerId owner, std::string_view name,
                                                            bool with_hidden) const {
  std::string pattern = "%";
  for (char ch : name) {
    if (ch == '%' || ch == '_' || ch == '\\') pattern += '\\';
    pattern += ch;
  }
  pattern += '%';
  return impl_->db.read([&](store::Connection& c) -> Expected<std::vector<Person>> {
    return query(
        c,
        "SELECT " + std::string(kPersonColumns) + ", counts.faces FROM person p LEFT JOIN (" +
            std::string(kCountedFaces) +
            ") counts ON counts.person_id = p.id WHERE p.name != '' AND lower(p.name) LIKE lower(?) ESCAPE "
            "'\\' "
            "AND (? = 1 OR p.is_hidden = 0) AND p.owner_id = ? ORDER BY length(p.name), p.name, p.id LIMIT "
            "100",
        [&](const store::Statement& row) { return person_of_row(row, impl_->options.data_dir, 10); }, pattern,
        with_hidden, owner);
  });
}

Expected<std::vector<Face>> PeopleService::faces_of_asset(OwnerId owner, AssetId asset) const {
  return impl_->db.read([&](store::Connection& c) -> Expected<std::vector<Face>> {
    auto owned =
        query_one<std::int64_t>(c, "SELECT 1 FROM asset WHERE id = ? AND owner_id = ?", asset, owner);
    if (!owned) return std::move(owned).error();
    if (!*owned) return not_found("Asset " + std::to_string(asset) + " not found");
    return query(
        c,
        "SELECT " + std::string(kFaceColumns) +
            " FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE f.asset_id = ? AND a.owner_id = ? "
            "AND f.deleted_at IS NULL AND f.is_visible = 1 ORDER BY f.x1, f.id",
        face_of_row, asset, owner);
  });
}

Expected<std::vector<Face>> PeopleService::unassigned_faces(OwnerId owner, int limit) const {
  return impl_->db.read([&](store::Connection& c) -> Expected<std::vector<Face>> {
    return query(c,
                 "SELECT " + std::string(kFaceColumns) +
                     " FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE f.person_id IS NULL AND "
                     "a.owner_id = ? AND f.deleted_at IS NULL AND f.is_visible = 1 AND a.deleted_at IS NULL "
                     "ORDER BY f.id DESC LIMIT ?",
                 face_of_row, owner, std::max(limit, 0));
  });
}

Expected<Face> PeopleService::face(OwnerId owner, FaceId id) const {
  return impl_->db.read([&](store::Connection& c) -> Expected<Face> {
    auto found = impl_->find_face(c, id, owner);
    if (!found) return std::move(found).error();
    if (!*found) return not_found("Face not found");
    return **found;
  });
}

Expected<Face> PeopleService::reassign_face(OwnerId owner, FaceId face_id, PersonId person) {
  Status written = impl_->db.write([&](store::Connection& c) -> Status {
    auto target = impl_->require_person(c, person, owner);
    if (!target) return target.error();
    auto found = impl_->find_face(c, face_id, owner);
    if (!found) return found.error();
    if (!*found) return not_found("Face not found");
    const std::optional<PersonId> previous = (*found)->person_id;
    Status moved = exec(c, "UPDATE asset_face SET person_id = ?, updated_at = ? WHERE id = ?", person,
                        store::now_ms(), face_id);
    if (!moved) return moved;
    std::vector<PersonId> sources;
    if (previous) sources.push_back(*previous);
    const FaceId moved_ids[] = {face_id};
    return impl_->fix_feature_faces(c, person, sources, moved_ids);
  });
  if (!written) return written.error();
  return face(owner, face_id);
}

Status PeopleService::remove_face(OwnerId owner, FaceId face_id) {
  return impl_->db.write([&](store::Connection& c) -> Status {
    auto found = impl_->find_face(c, face_id, owner);
    if (!found) return found.error();
    if (!*found) return not_found("Face not found");
    const std::optional<PersonId> previous = (*found)->person_id;
    Status removed =
        exec(c, "UPDATE asset_face SET deleted_at = ?1, person_id = NULL, updated_at = ?1 WHERE id = ?2",
             store::now_ms(), face_id);
    if (!removed || !previous) return removed;
    auto feature = impl_->feature_face_of(c, *previous);
    if (!feature) return feature.error();
    if (*feature && **feature != face_id) return {};
    return impl_->refresh_feature_face(c, *previous);
  });
}

Expected<Person> PeopleService::reassign_face_to_new_person(OwnerId owner, FaceId face_id) {
  auto found = face(owner, face_id);
  if (!found) return std::move(found).error();
  auto person = create_person(owner, PersonUpdate{});
  if (!person) return std::move(person).error();
  auto moved = reassign_face(owner, face_id, person->id);
  if (!moved) return std::move(moved).error();
  return get(owner, person->id);
}

Expected<std::vector<PersonId>> PeopleService::reassign(OwnerId owner, PersonId target,
                                                        std::span<const std::pair<PersonId, AssetId>> pairs) {
  std::vector<PersonId> affected;
  Status written = impl_->db.write([&](store::Connection& c) -> Status {
    auto into = impl_->require_person(c, target, owner);
    if (!into) return into.error();
    std::vector<FaceId> moved;
    std::vector<PersonId> sources;
    for (const auto& pair : pairs) {
      const PersonId person = pair.first;
      const AssetId asset = pair.second;
      auto from = impl_->require_person(c, person, owner);  // another user's person is not found
      if (!from) return from.error();
      auto faces = query<FaceId>(
          c, "SELECT id FROM asset_face WHERE person_id = ? AND asset_id = ? AND deleted_at IS NULL", person,
          asset);
      if (!faces) return faces.error();
      moved.insert(moved.end(), faces->begin(), faces->end());
      Status status =
          exec(c, "UPDATE asset_face SET person_id = ?, updated_at = ? WHERE person_id = ? AND asset_id = ?",
               target, store::now_ms(), person, asset);
      if (!status) return status;
      if (std::find(sources.begin(), sources.end(), person) == sources.end()) sources.push_back(person);
    }
    affected = sources;
    affected.push_back(target);
    return impl_->fix_feature_faces(c, target, sources, moved);
  });
  if (!written) return written.error();
  return affected;
}

Expected<std::unordered_set<AssetId>> PeopleService::assets_with_people(
    std::optional<OwnerId> owner, std::span<const PersonId> people) const {
  std::vector<PersonId> unique(people.begin(), people.end());
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  return impl_->db.read([&](store::Connection& c) -> Expected<std::unordered_set<AssetId>> {
    for (PersonId id : unique) {
      auto person = impl_->find_person(c, id, owner);
      if (!person) return std::move(person).error();
      if (!*person) return not_found("Person " + std::to_string(id) + " not found");
    }
    std::unordered_set<AssetId> out;
    if (unique.empty()) return out;
    Status status = for_each_row(
        c,
        "SELECT f.asset_id FROM asset_face f WHERE f.person_id IN " + store::id_list(c, "?1") +
            " AND f.deleted_at IS NULL AND f.is_visible = 1 GROUP BY f.asset_id "
            "HAVING count(DISTINCT f.person_id) = ?2",
        [&](const store::Statement& row) { out.insert(row.int64(0)); }, json_ids(unique), unique.size());
    if (!status) return status.error();
    return out;
  });
}

Status PeopleService::adopt_unowned(OwnerId fallback) {
  return impl_->db.write([&](store::Connection& c) -> Status {
    return exec(c,
                "UPDATE person SET owner_id = coalesce((SELECT a.owner_id FROM asset_face f JOIN asset a "
                "ON a.id = f.asset_id WHERE f.person_id = person.id AND a.owner_id != 0 LIMIT 1), ?) "
                "WHERE owner_id = 0",
                fallback);
  });
}

}  // namespace focal::people
