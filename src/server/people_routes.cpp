// SPDX-License-Identifier: AGPL-3.0-or-later
// People and faces, as Immich exposes them: /api/people*, /api/faces*, /api/search/person.
#include "people/people.h"
#include "server/routes.h"

namespace focal::server {
namespace {

using nlohmann::json;

json person_json(const people::Person& p) {
  json out = {
      {"id", p.id},
      {"name", p.name},
      {"birthDate", p.birth_date ? json(*p.birth_date) : json(nullptr)},
      {"thumbnailPath", p.thumbnail_path.empty() ? "" : "/api/people/" + std::to_string(p.id) + "/thumbnail"},
      {"isHidden", p.is_hidden},
      {"isFavorite", p.is_favorite},
      {"faceCount", p.face_count},
      {"updatedAt", iso_time(p.updated_at_ms)}};
  if (p.color) out["color"] = *p.color;
  return out;
}

json face_json(const people::Face& f, const std::optional<people::Person>& person) {
  return {{"id", f.id},
          {"assetId", f.asset_id},
          {"imageWidth", f.image_width},
          {"imageHeight", f.image_height},
          {"boundingBoxX1", f.box.x1},
          {"boundingBoxY1", f.box.y1},
          {"boundingBoxX2", f.box.x2},
          {"boundingBoxY2", f.box.y2},
          {"sourceType", std::string(people::to_string(f.source))},
          {"person", person ? person_json(*person) : json(nullptr)}};
}

// Person fields of a POST/PUT/PATCH body. birthDate and color may be null (cleared).
Expected<people::PersonUpdate> person_fields(const json& body, bool allow_feature_face) {
  people::PersonUpdate fields;
  auto name = optional_string(body, "name");
  if (!name) return name.error();
  fields.name = *name;
  for (auto [key, target] : {std::pair{"birthDate", &fields.birth_date}, std::pair{"color", &fields.color}}) {
    auto it = body.find(key);
    if (it == body.end()) continue;
    if (it->is_null()) {
      *target = std::string();
    } else if (it->is_string()) {
      *target = it->get<std::string>();
    } else {
      return bad_request(std::string(key) + " must be a string or null");
    }
  }
  auto hidden = optional_bool(body, "isHidden");
  if (!hidden) return hidden.error();
  fields.is_hidden = *hidden;
  auto favorite = optional_bool(body, "isFavorite");
  if (!favorite) return favorite.error();
  fields.is_favorite = *favorite;
  if (allow_feature_face) {
    auto feature = optional_int(body, "featureFaceAssetId", 1, std::numeric_limits<std::int64_t>::max());
    if (!feature) return feature.error();
    fields.feature_face_asset_id = *feature;
  }
  return fields;
}

Expected<std::vector<std::int64_t>> required_ids(const json& body, std::string_view key) {
  auto ids = optional_ids(body, key);
  if (!ids) return ids.error();
  if (!*ids) return bad_request(std::string(key) + " must be an array of ids");
  return **ids;
}

}  // namespace

void register_people_routes(Api& api, people::PeopleService& people) {
  api.get("/api/people", user_route(Permission::kPersonRead),
          [&people](const ApiRequest& req) -> Expected<ApiResponse> {
            people::PeopleQuery query;
            auto hidden = req.query_bool("withHidden");
            if (!hidden) return hidden.error();
            query.with_hidden = hidden->value_or(false);
            auto page = req.query_int("page", 1, 1'000'000);
            if (!page) return page.error();
            query.page = static_cast<int>(page->value_or(1));
            auto size = req.query_int("size", 1, 1000);
            if (!size) return size.error();
            query.size = static_cast<int>(size->value_or(500));
            auto minimum = req.query_int("minimumFaces", 1, 1'000'000);
            if (!minimum) return minimum.error();
            query.min_faces = static_cast<int>(minimum->value_or(3));
            const std::int64_t max_id = std::numeric_limits<std::int64_t>::max();
            auto closest_person = req.query_int("closestPersonId", 1, max_id);
            if (!closest_person) return closest_person.error();
            query.closest_person = *closest_person;
            // Immich compares closestAssetId as a face id; focal names it for what it is and accepts
            // both.
            auto closest_face = req.query_int("closestFaceId", 1, max_id);
            if (!closest_face) return closest_face.error();
            auto closest_asset = req.query_int("closestAssetId", 1, max_id);
            if (!closest_asset) return closest_asset.error();
            query.closest_face = closest_face->has_value() ? *closest_face : *closest_asset;
            auto result = people.list(req.caller.user_id, query);
            if (!result) return result.error();
            json list = json::array();
            for (const auto& p : result->people) list.push_back(person_json(p));
            return ApiResponse::json({{"people", list},
                                      {"total", result->total},
                                      {"hidden", result->hidden},
                                      {"hasNextPage", result->has_next_page}});
          });
  api.post("/api/people", user_route(Permission::kPersonCreate),
           [&people](const ApiRequest& req) -> Expected<ApiResponse> {
             auto body = req.json_body();
             if (!body) return body.error();
             auto fields = person_fields(*body, false);
             if (!fields) return fields.error();
             auto created = people.create_person(req.caller.user_id, *fields);
             if (!created) return created.error();
             return ApiResponse::json(person_json(*created), 201);
           });
  api.del("/api/people", user_route(Permission::kPersonDelete),
          [&people](const ApiRequest& req) -> Expected<ApiResponse> {
            auto body = req.json_body();
            if (!body) return body.error();
            auto ids = required_ids(*body, "ids");
            if (!ids) return ids.error();
            for (std::int64_t id : *ids) {
              if (Status removed = people.remove(req.caller.user_id, id); !removed) return removed.error();
            }
            return ApiResponse::no_content();
          });
  api.get("/api/people/:id", user_route(Permission::kPersonRead),
          [&people](const ApiRequest& req) -> Expected<ApiResponse> {
            auto id = req.path_int("id");
            if (!id) return id.error();
            auto person = people.get(req.caller.user_id, *id);
            if (!person) return person.error();
            return ApiResponse::json(person_json(*person));
          });
  const Handler update = [&people](const ApiRequest& req) -> Expected<ApiResponse> {
    auto id = req.path_int("id");
    if (!id) return id.error();
    auto body = req.json_body();
    if (!body) return body.error();
    auto fields = person_fields(*body, true);
    if (!fields) return fields.error();
    auto person = people.update(req.caller.user_id, *id, *fields);
    if (!person) return person.error();
    return ApiResponse::json(person_json(*person));
  };
  api.put("/api/people/:id", user_route(Permission::kPersonUpdate), update);
  api.patch("/api/people/:id", user_route(Permission::kPersonUpdate), update);
  api.del("/api/people/:id", user_route(Permission::kPersonDelete),
          [&people](const ApiRequest& req) -> Expected<ApiResponse> {
            auto id = req.path_int("id");
            if (!id) return id.error();
            if (Status removed = people.remove(req.caller.user_id, *id); !removed) return removed.error();
            return ApiResponse::no_content();
          });
  api.get("/api/people/:id/statistics", user_route(Permission::kPersonRead),
          [&people](const ApiRequest& req) -> Expected<ApiResponse> {
            auto id = req.path_int("id");
            if (!id) return id.error();
            auto count = people.asset_count(req.caller.user_id, *id);
            if (!count) return count.error();
            return ApiResponse::json({{"assets", *count}});
          });
  api.get("/api/people/:id/thumbnail", user_route(Permission::kPersonRead),
          [&people](const ApiRequest& req) -> Expected<ApiResponse> {
            auto id = req.path_int("id");
            if (!id) return id.error();
            auto path = people.thumbnail(req.caller.user_id, *id);
            if (!path) return path.error();
            ApiResponse response = ApiResponse::send_file(*path, "image/jpeg");
            response.headers.emplace_back("Cache-Control", "private, no-cache, no-transform");
            return response;
          });
  api.put("/api/people/:id/reassign", user_route(Permission::kPersonReassign),
          [&people](const ApiRequest& req) -> Expected<ApiResponse> {
            auto id = req.path_int("id");
            if (!id) return id.error();
            auto body = req.json_body();
            if (!body) return body.error();
            auto data = body->find("data");
            if (data == body->end() || !data->is_array()) return bad_request("data must be an array");
            std::vector<std::pair<people::PersonId, people::AssetId>> pairs;
            for (const json& item : *data) {
              if (!item.is_object()) return bad_request("data items must be objects {personId, assetId}");
              auto person = optional_int(item, "personId", 1, std::numeric_limits<std::int64_t>::max());
              if (!person) return person.error();
              auto asset = optional_int(item, "assetId", 1, std::numeric_limits<std::int64_t>::max());
              if (!asset) return asset.error();
              if (!*person || !*asset) return bad_request("data items need personId and assetId");
              pairs.emplace_back(**person, **asset);
            }
            auto affected = people.reassign(req.caller.user_id, *id, pairs);
            if (!affected) return affected.error();
            json out = json::array();
            for (people::PersonId pid : *affected) {
              auto person = people.get(req.caller.user_id, pid);
              if (person) out.push_back(person_json(*person));
            }
            return ApiResponse::json(out);
          });
  api.post("/api/people/:id/merge", user_route(Permission::kPersonMerge),
           [&people](const ApiRequest& req) -> Expected<ApiResponse> {
             auto id = req.path_int("id");
             if (!id) return id.error();
             auto body = req.json_body();
             if (!body) return body.error();
             auto ids = required_ids(*body, "ids");
             if (!ids) return ids.error();
             auto results = people.merge(req.caller.user_id, *id, *ids);
             if (!results) return results.error();
             json out = json::array();
             for (const auto& r : *results) {
               json item = {{"id", r.id}, {"success", r.status == people::MergeStatus::kSuccess}};
               if (r.status != people::MergeStatus::kSuccess)
                 item["error"] = std::string(people::to_string(r.status));
               out.push_back(std::move(item));
             }
             return ApiResponse::json(out);
           });

  // Faces.
  const auto person_of = [&people](const ApiRequest& req,
                                   const people::Face& face) -> std::optional<people::Person> {
    if (!face.person_id) return std::nullopt;
    auto person = people.get(req.caller.user_id, *face.person_id);
    return person ? std::optional<people::Person>(*person) : std::nullopt;
  };
  api.get("/api/faces", user_route(Permission::kFaceRead),
          [&people, person_of](const ApiRequest& req) -> Expected<ApiResponse> {
            auto asset = req.query_int("id", 1, std::numeric_limits<std::int64_t>::max());
            if (!asset) return asset.error();
            if (!*asset) return bad_request("id (an asset id) is required");
            auto faces = people.faces_of_asset(req.caller.user_id, **asset);
            if (!faces) return faces.error();
            json out = json::array();
            for (const auto& f : *faces) out.push_back(face_json(f, person_of(req, f)));
            return ApiResponse::json(out);
          });
  api.get("/api/faces/unassigned", user_route(Permission::kFaceRead),
          [&people](const ApiRequest& req) -> Expected<ApiResponse> {
            auto limit = req.query_int("limit", 1, 1000);
            if (!limit) return limit.error();
            auto faces = people.unassigned_faces(req.caller.user_id, static_cast<int>(limit->value_or(100)));
            if (!faces) return faces.error();
            json out = json::array();
            for (const auto& f : *faces) out.push_back(face_json(f, std::nullopt));
            return ApiResponse::json(out);
          });
  api.put("/api/faces/:personId", user_route(Permission::kFaceUpdate),
          [&people](const ApiRequest& req) -> Expected<ApiResponse> {
            auto person = req.path_int("personId");
            if (!person) return person.error();
            auto body = req.json_body();
            if (!body) return body.error();
            auto face = optional_int(*body, "id", 1, std::numeric_limits<std::int64_t>::max());
            if (!face) return face.error();
            if (!*face) return bad_request("id (a face id) is required");
            auto moved = people.reassign_face(req.caller.user_id, **face, *person);
            if (!moved) return moved.error();
            auto target = people.get(req.caller.user_id, *person);
            if (!target) return target.error();
            return ApiResponse::json(person_json(*target));
          });
  // Immich's DELETE /faces/:id: the face is soft-deleted (Immich's force: true, a hard delete, is not offered:
  // the next face detection would recreate the face).
  api.del("/api/faces/:id", user_route(Permission::kFaceDelete),
          [&people](const ApiRequest& req) -> Expected<ApiResponse> {
            auto face = req.path_int("id");
            if (!face) return face.error();
            if (Status removed = people.remove_face(req.caller.user_id, *face); !removed)
              return removed.error();
            return ApiResponse::no_content();
          });
  // focal: a face to a brand-new person in one call.
  api.post("/api/faces/:id/person", user_route(Permission::kFaceUpdate),
           [&people](const ApiRequest& req) -> Expected<ApiResponse> {
             auto face = req.path_int("id");
             if (!face) return face.error();
             auto person = people.reassign_face_to_new_person(req.caller.user_id, *face);
             if (!person) return person.error();
             return ApiResponse::json(person_json(*person), 201);
           });

  api.get("/api/search/person", user_route(Permission::kPersonRead),
          [&people](const ApiRequest& req) -> Expected<ApiResponse> {
            auto name = req.query_value("name");
            if (!name || name->empty()) return bad_request("name is required");
            auto hidden = req.query_bool("withHidden");
            if (!hidden) return hidden.error();
            auto found = people.search_by_name(req.caller.user_id, *name, hidden->value_or(false));
            if (!found) return found.error();
            json out = json::array();
            for (const auto& p : *found) out.push_back(person_json(p));
            return ApiResponse::json(out);
          });
}

}  // namespace focal::server
