// SPDX-License-Identifier: AGPL-3.0-or-later
// Duplicate review and resolution, as in Immich: /api/duplicates*.
#include "duplicates/duplicates.h"
#include "server/routes.h"

namespace focal::server {
namespace {

using nlohmann::json;

Expected<std::vector<std::int64_t>> ids_of(const json& body, std::string_view key) {
  auto ids = optional_ids(body, key);
  if (!ids) return ids.error();
  return ids->value_or(std::vector<std::int64_t>{});
}

}  // namespace

void register_duplicate_routes(Api& api, duplicates::DuplicateService& service) {
  api.get(
      "/api/duplicates", user_route(Permission::kDuplicateRead),
      [&service](const ApiRequest& req) -> Expected<ApiResponse> {
        auto groups = service.groups(req.caller.user_id);
        if (!groups) return groups.error();
        json out = json::array();
        for (const auto& g : *groups) {
          out.push_back(
              {{"duplicateId", g.id}, {"assetIds", g.assets}, {"suggestedKeepAssetIds", g.suggested_keep}});
        }
        return ApiResponse::json(out);
      });
  api.del("/api/duplicates/:id", user_route(Permission::kDuplicateDelete),
          [&service](const ApiRequest& req) -> Expected<ApiResponse> {
            auto id = req.path_int("id");
            if (!id) return id.error();
            if (Status dismissed = service.dismiss(req.caller.user_id, *id); !dismissed)
              return dismissed.error();
            return ApiResponse::no_content();
          });
  api.del("/api/duplicates", user_route(Permission::kDuplicateDelete),
          [&service](const ApiRequest& req) -> Expected<ApiResponse> {
            auto body = req.json_body();
            if (!body) return body.error();
            auto ids = ids_of(*body, "ids");
            if (!ids) return ids.error();
            for (std::int64_t id : *ids) {
              Status dismissed = service.dismiss(req.caller.user_id, id);
              if (!dismissed && dismissed.error().kind != ErrorKind::kNotFound) return dismissed.error();
            }
            return ApiResponse::no_content();
          });
  api.post("/api/duplicates/resolve", user_route(Permission::kDuplicateDelete),
           [&service](const ApiRequest& req) -> Expected<ApiResponse> {
             auto body = req.json_body();
             if (!body) return body.error();
             auto groups = body->find("groups");
             if (groups == body->end() || !groups->is_array()) return bad_request("groups must be an array");
             std::vector<duplicates::ResolveRequest> requests;
             for (const json& g : *groups) {
               if (!g.is_object()) return bad_request("groups items must be objects");
               auto id = optional_int(g, "duplicateId", 1, std::numeric_limits<std::int64_t>::max());
               if (!id) return id.error();
               if (!*id) return bad_request("duplicateId is required");
               auto keep = ids_of(g, "keepAssetIds");
               if (!keep) return keep.error();
               auto trash = ids_of(g, "trashAssetIds");
               if (!trash) return trash.error();
               requests.push_back({**id, *keep, *trash});
             }
             auto results = service.resolve(req.caller.user_id, requests);
             if (!results) return results.error();
             json out = json::array();
             for (const auto& r : *results) {
               json item = {{"duplicateId", r.duplicate_id},
                            {"status", std::string(duplicates::to_string(r.status))}};
               if (!r.error.empty()) item["message"] = r.error;
               out.push_back(std::move(item));
             }
             return ApiResponse::json(out);
           });
}

}  // namespace focal::server
