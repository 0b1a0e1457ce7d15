// SPDX-License-Identifier: AGPL-3.0-or-later
// Library folders and assets: add/scan folders, list/get assets, thumbnails/previews/originals, upload,
// delete.
#include "library/library.h"
#include "search/search.h"
#include "server/asset_json.h"
#include "server/routes.h"

namespace focal::server {
namespace {

using detail::asset_json;
using detail::owned_asset;
using nlohmann::json;

json library_json(const library::Library& lib) {
  return {{"id", lib.id},
          {"ownerId", lib.owner_id},
          {"importPath", lib.path},
          {"createdAt", iso_time(lib.created_at_ms)},
          {"refreshedAt", lib.last_scanned_at_ms ? json(iso_time(*lib.last_scanned_at_ms)) : json(nullptr)}};
}

json scan_json(const library::ScanReport& report) {
  return {{"filesSeen", report.files_seen},     {"imported", report.imported},
          {"duplicates", report.duplicates},    {"unchanged", report.unchanged},
          {"unsupported", report.unsupported},  {"errors", report.errors},
          {"newAssetIds", report.new_asset_ids}};
}

// PUT /api/assets/:id: every field Immich accepts is type-checked (400 naming it); unknown fields are
// ignored as Immich's whitelisting validator does.
struct AssetUpdate {
  std::optional<bool> is_favorite;
  std::optional<library::Visibility> visibility;
  std::optional<std::string> description;
  std::optional<std::optional<int>> rating;  // set to nullopt: clear
};

Expected<AssetUpdate> asset_update(const json& body) {
  AssetUpdate update;
  auto favorite = optional_bool(body, "isFavorite");
  if (!favorite) return favorite.error();
  update.is_favorite = *favorite;
  auto archived = optional_bool(body, "isArchived");
  if (!archived) return archived.error();
  if (*archived)
    update.visibility = **archived ? library::Visibility::kArchive : library::Visibility::kTimeline;
  auto visibility_text = optional_string(body, "visibility");
  if (!visibility_text) return visibility_text.error();
  if (*visibility_text) {
    auto visibility = library::parse_visibility(**visibility_text);
    if (!visibility) return bad_request("visibility must be one of archive, timeline, hidden, locked");
    update.visibility = *visibility;
  }
  auto description = optional_string(body, "description");
  if (!description) return description.error();
  if (*description && (*description)->size() > 10'000)
    return bad_request("description must be at most 10000 characters");
  update.description = *description;
  if (auto it = body.find("rating"); it != body.end()) {
    if (it->is_null()) {
      update.rating = std::optional<int>{};
    } else {
      auto rating = optional_int(body, "rating", -1, 5);
      if (!rating) return rating.error();
      update.rating = static_cast<int>(**rating);
    }
  }
  for (const char* key : {"dateTimeOriginal", "latitude", "longitude"}) {
    if (body.contains(key)) return bad_request(std::string(key) + " cannot be changed in focal yet");
  }
  return update;
}

}  // namespace

void register_asset_routes(Api& api, library::LibraryService& service, search::KeywordSearch& keyword,
                           UserExists users) {
  // --- library folders ---
  api.get("/api/libraries", admin_route(Permission::kLibraryRead),
          [&service](const ApiRequest&) -> Expected<ApiResponse> {
            auto libs = service.libraries();
            if (!libs) return libs.error();
            json out = json::array();
            for (const auto& lib : *libs) out.push_back(library_json(lib));
            return ApiResponse::json(out);
          });

  // Administrative: libraries of any user; ownerId (default: the caller) owns the imported assets.
  api.post("/api/libraries", admin_route(Permission::kLibraryCreate),
           [&service, users](const ApiRequest& req) -> Expected<ApiResponse> {
             auto body = req.json_body();
             if (!body) return body.error();
             auto path = optional_string(*body, "importPath");
             if (!path) return path.error();
             if (!*path || (*path)->empty()) return bad_request("importPath should not be empty");
             auto owner = optional_id(*body, "ownerId");
             if (!owner) return owner.error();
             const std::int64_t owner_id = owner->value_or(req.caller.user_id);
             if (!users(owner_id))
               return bad_request("ownerId " + std::to_string(owner_id) + " is not a user");
             auto lib = service.add_library(**path, owner_id);
             if (!lib) return lib.error();
             return ApiResponse::json(library_json(*lib), 201);
           });

  api.del("/api/libraries/:id", admin_route(Permission::kLibraryDelete),
          [&service](const ApiRequest& req) -> Expected<ApiResponse> {
            auto id = req.path_int("id");
            if (!id) return id.error();
            if (auto st = service.remove_library(*id); !st) return st.error();
            return ApiResponse::no_content();
          });

  // Scans synchronously and answers with the report (Immich queues a job and answers 204).
  api.post("/api/libraries/:id/scan", admin_route(Permission::kLibraryUpdate),
           [&service](const ApiRequest& req) -> Expected<ApiResponse> {
             auto id = req.path_int("id");
             if (!id) return id.error();
             auto report = service.scan(*id);
             if (!report) return report.error();
             return ApiResponse::json(scan_json(*report));
           });

  // --- assets ---
  // Cursor paging: ?after=<last id seen>&size=N (ascending ids). withDeleted / withHidden include those.
  api.get("/api/assets", user_route(Permission::kAssetRead),
          [&service](const ApiRequest& req) -> Expected<ApiResponse> {
            auto after = req.query_int("after", 0, INT64_MAX);
            if (!after) return after.error();
            auto size = req.query_int("size", 1, 1000);
            if (!size) return size.error();
            auto with_deleted = req.query_bool("withDeleted");
            if (!with_deleted) return with_deleted.error();
            auto with_hidden = req.query_bool("withHidden");
            if (!with_hidden) return with_hidden.error();
            library::AssetFilter filter;
            filter.owner_id = req.caller.user_id;
            filter.include_deleted = with_deleted->value_or(false);
            filter.include_hidden = with_hidden->value_or(false);
            const int limit = static_cast<int>(size->value_or(100));
            auto ids = service.assets().page_ids(after->value_or(0), limit + 1, filter);
            if (!ids) return ids.error();
            const bool more = static_cast<int>(ids->size()) > limit;
            if (more) ids->pop_back();
            json items = json::array();
            for (const auto id : *ids) {
              auto asset = service.assets().get(id);
              if (!asset) return asset.error();
              if (*asset) items.push_back(asset_json(**asset, std::nullopt));
            }
            return ApiResponse::json({{"items", items},
                                      {"count", items.size()},
                                      {"nextAfter", more ? json(ids->back()) : json(nullptr)}});
          });

  api.get("/api/assets/statistics", user_route(Permission::kAssetRead),
          [&service](const ApiRequest& req) -> Expected<ApiResponse> {
            library::AssetFilter mine;
            mine.owner_id = req.caller.user_id;
            auto total = service.assets().count(mine);
            if (!total) return total.error();
            library::AssetFilter ready = mine;
            ready.status = library::AssetStatus::kReady;
            auto ready_count = service.assets().count(ready);
            if (!ready_count) return ready_count.error();
            library::AssetFilter with_preview = mine;
            with_preview.require_preview = true;
            auto preview_count = service.assets().count(with_preview);
            if (!preview_count) return preview_count.error();
            return ApiResponse::json(
                {{"total", *total}, {"ready", *ready_count}, {"withPreview", *preview_count}});
          });

  api.get("/api/assets/:id", user_route(Permission::kAssetRead),
          [&service](const ApiRequest& req) -> Expected<ApiResponse> {
            auto id = req.path_int("id");
            if (!id) return id.error();
            auto asset = owned_asset(service.assets(), *id, req.caller);
            if (!asset) return asset.error();
            auto exif = service.assets().exif(*id);
            if (!exif) return exif.error();
            return ApiResponse::json(asset_json(*asset, *exif));
          });

  // ?size=thumbnail (WebP, default) | preview (JPEG, what ML sees).
  api.get("/api/assets/:id/thumbnail", user_route(Permission::kAssetView),
          [&service](const ApiRequest& req) -> Expected<ApiResponse> {
            auto id = req.path_int("id");
            if (!id) return id.error();
            const auto size = req.query_value("size").value_or("thumbnail");
            if (size != "thumbnail" && size != "preview")
              return bad_request("size must be one of thumbnail, preview");
            const bool preview = size == "preview";
            if (auto asset = owned_asset(service.assets(), *id, req.caller); !asset) return asset.error();
            auto path = service.assets().file(
                *id, preview ? library::AssetFileType::kPreview : library::AssetFileType::kThumbnail);
            if (!path) return path.error();
            if (!*path) return not_found("Asset " + std::to_string(*id) + " has no " + size + " yet");
            auto reply = ApiResponse::send_file(**path, preview ? "image/jpeg" : "image/webp");
            reply.headers.emplace_back("Cache-Control", "private, max-age=86400, no-transform");
            return reply;
          });

  api.get("/api/assets/:id/original", user_route(Permission::kAssetDownload),
          [&service](const ApiRequest& req) -> Expected<ApiResponse> {
            auto id = req.path_int("id");
            if (!id) return id.error();
            auto asset = owned_asset(service.assets(), *id, req.caller);
            if (!asset) return asset.error();
            auto reply = ApiResponse::send_file(asset->original_path, detail::mime_type(asset->file_type));
            std::string safe_name;
            for (const char c : asset->original_file_name)
              safe_name += (c == '"' || c == '\\' || c < 0x20) ? '_' : c;
            reply.headers.emplace_back("Content-Disposition", "inline; filename=\"" + safe_name + "\"");
            return reply;
          });

  // Immich's upload: multipart with the file in `assetData` (other fields are accepted and ignored). 201 for
  // a new asset, 200 with status "duplicate" when the content is already in the library.
  api.post("/api/assets", user_route(Permission::kAssetUpload),
           [&service](const ApiRequest& req) -> Expected<ApiResponse> {
             if (req.parts.empty())
               return bad_request("Send the file as multipart/form-data in the field assetData");
             const auto* part = req.part("assetData");
             if (part == nullptr) return bad_request("assetData is required");
             std::string name(part->filename);
             if (name.empty())
               name = req.part("filename") ? std::string(req.part("filename")->content) : "upload";
             const auto* data = reinterpret_cast<const std::uint8_t*>(part->content.data());
             auto result = service.upload(std::span<const std::uint8_t>(data, part->content.size()), name,
                                          req.caller.user_id);
             if (!result) return result.error();
             return ApiResponse::json(
                 {{"id", result->asset.id}, {"status", result->duplicate ? "duplicate" : "created"}},
                 result->duplicate ? 200 : 201);
           });

  // Bulk delete as Immich: {ids, force?}; focal always moves to the trash (deletedAt), never removes
  // originals.
  api.del("/api/assets", user_route(Permission::kAssetDelete),
          [&service](const ApiRequest& req) -> Expected<ApiResponse> {
            auto body = req.json_body();
            if (!body) return body.error();
            auto ids = optional_ids(*body, "ids");
            if (!ids) return ids.error();
            if (!*ids || (*ids)->empty()) return bad_request("ids should not be empty");
            for (const auto id : **ids) {
              if (auto asset = owned_asset(service.assets(), id, req.caller); !asset) return asset.error();
            }
            for (const auto id : **ids) {
              if (auto st = service.soft_delete(id); !st) return st.error();
            }
            return ApiResponse::no_content();
          });

  api.put("/api/assets/:id", user_route(Permission::kAssetUpdate),
          [&service, &keyword](const ApiRequest& req) -> Expected<ApiResponse> {
            auto id = req.path_int("id");
            if (!id) return id.error();
            auto body = req.json_body();
            if (!body) return body.error();
            auto update = asset_update(*body);
            if (!update) return update.error();
            if (auto asset = owned_asset(service.assets(), *id, req.caller); !asset) return asset.error();
            if (update->visibility) {
              if (auto st = service.set_visibility(*id, *update->visibility); !st) return st.error();
            }
            if (update->is_favorite) {
              if (auto st = service.set_favorite(*id, *update->is_favorite); !st) return st.error();
            }
            if (update->rating) {
              if (auto st = service.set_rating(*id, *update->rating); !st) return st.error();
            }
            if (update->description) {
              if (auto st = service.set_description(*id, *update->description); !st) return st.error();
              if (auto st = keyword.index_asset(*id); !st)
                return st.error();  // the description is searchable
            }
            auto asset = owned_asset(service.assets(), *id, req.caller);
            if (!asset) return asset.error();
            auto exif = service.assets().exif(*id);
            if (!exif) return exif.error();
            return ApiResponse::json(asset_json(*asset, *exif));
          });
}

}  // namespace focal::server
