// Library folders and assets: add/scan folders, list/get assets, thumbnails/previews/originals, upload,
// delete.
#include "library/library.h"
#include "server/asset_json.h"
#include "server/routes.h"

namespace focal::server {
namespace {

using detail::asset_json;
using nlohmann::json;

json library_json(const library::Library& lib) {
  return {{"id", lib.id},
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

Expected<library::Asset> existing_asset(const library::LibraryService& service, std::int64_t id) {
  auto asset = service.assets().get(id);
  if (!asset) return asset.error();
  if (!*asset) return not_found("Asset " + std::to_string(id) + " not found");
  return **asset;
}

}  // namespace

void register_asset_routes(Api& api, library::LibraryService& service) {
  // --- library folders ---
  api.get(
      "/api/libraries", admin_route(Permission::kLibraryRead),
      [&service](const ApiRequest&) -> Expected<ApiResponse> {
        auto libs = service.libraries();
        if (!libs) return libs.error();
        json out = json::array();
        for (const auto& lib : *libs) out.push_back(library_json(lib));
        return ApiResponse::json(out);
      });

  api.post(
      "/api/libraries", admin_route(Permission::kLibraryCreate),
      [&service](const ApiRequest& req) -> Expected<ApiResponse> {
        auto body = req.json_body();
        if (!body) return body.error();
        auto path = optional_string(*body, "importPath");
        if (!path) return path.error();
        if (!*path || (*path)->empty()) return bad_request("importPath should not be empty");
        auto lib = service.add_library(**path);
        if (!lib) return lib.error();
        return ApiResponse::json(library_json(*lib), 201);
      });

  api.del(
      "/api/libraries/:id", admin_route(Permission::kLibraryDelete),
      [&service](const ApiRequest& req) -> Expected<ApiResponse> {
        auto id = req.path_int("id");
        if (!id) return id.error();
        if (auto st = service.remove_library(*id); !st) return st.error();
        return ApiResponse::no_content();
      });

  // Scans synchronously and answers with the report (Immich queues a job and answers 204).
  api.post(
      "/api/libraries/:id/scan", admin_route(Permission::kLibraryUpdate),
      [&service](const ApiRequest& req) -> Expected<ApiResponse> {
        auto id = req.path_int("id");
        if (!id) return id.error();
        auto report = service.scan(*id);
        if (!report) return report.error();
        return ApiResponse::json(scan_json(*report));
      });

  // --- assets ---
  // Cursor paging: ?after=<last id seen>&size=N (ascending ids). withDeleted / withHidden include those.
  api.get("/api/assets", user_route(Permission::kAssetRead), [&service](const ApiRequest& req) -> Expected<ApiResponse> {
    auto after = req.query_int("after", 0, INT64_MAX);
    if (!after) return after.error();
    auto size = req.query_int("size", 1, 1000);
    if (!size) return size.error();
    auto with_deleted = req.query_bool("withDeleted");
    if (!with_deleted) return with_deleted.error();
    auto with_hidden = req.query_bool("withHidden");
    if (!with_hidden) return with_hidden.error();
    library::AssetFilter filter;
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
    return ApiResponse::json(
        {{"items", items}, {"count", items.size()}, {"nextAfter", more ? json(ids->back()) : json(nullptr)}});
  });

  api.get("/api/assets/statistics", user_route(Permission::kAssetRead), [&service](const ApiRequest&) -> Expected<ApiResponse> {
    auto total = service.assets().count(library::AssetFilter{});
    if (!total) return total.error();
    library::AssetFilter ready;
    ready.status = library::AssetStatus::kReady;
    auto ready_count = service.assets().count(ready);
    if (!ready_count) return ready_count.error();
    library::AssetFilter with_preview;
    with_preview.require_preview = true;
    auto preview_count = service.assets().count(with_preview);
    if (!preview_count) return preview_count.error();
    return ApiResponse::json({{"total", *total}, {"ready", *ready_count}, {"withPreview", *preview_count}});
  });

  api.get("/api/assets/:id", user_route(Permission::kAssetRead), [&service](const ApiRequest& req) -> Expected<ApiResponse> {
    auto id = req.path_int("id");
    if (!id) return id.error();
    auto asset = existing_asset(service, *id);
    if (!asset) return asset.error();
    auto exif = service.assets().exif(*id);
    if (!exif) return exif.error();
    return ApiResponse::json(asset_json(*asset, *exif));
  });

  // ?size=thumbnail (WebP, default) | preview (JPEG, what ML sees).
  api.get("/api/assets/:id/thumbnail", user_route(Permission::kAssetView), [&service](const ApiRequest& req) -> Expected<ApiResponse> {
    auto id = req.path_int("id");
    if (!id) return id.error();
    const auto size = req.query_value("size").value_or("thumbnail");
    if (size != "thumbnail" && size != "preview")
      return bad_request("size must be one of thumbnail, preview");
    const bool preview = size == "preview";
    if (auto asset = existing_asset(service, *id); !asset) return asset.error();
    auto path = service.assets().file(
        *id, preview ? library::AssetFileType::kPreview : library::AssetFileType::kThumbnail);
    if (!path) return path.error();
    if (!*path) return not_found("Asset " + std::to_string(*id) + " has no " + size + " yet");
    auto reply = ApiResponse::send_file(**path, preview ? "image/jpeg" : "image/webp");
    reply.headers.emplace_back("Cache-Control", "private, max-age=86400, no-transform");
    return reply;
  });

  api.get("/api/assets/:id/original", user_route(Permission::kAssetDownload), [&service](const ApiRequest& req) -> Expected<ApiResponse> {
    auto id = req.path_int("id");
    if (!id) return id.error();
    auto asset = existing_asset(service, *id);
    if (!asset) return asset.error();
    auto reply = ApiResponse::send_file(asset->original_path, detail::mime_type(asset->file_type));
    std::string safe_name;
    for (const char c : asset->original_file_name) safe_name += (c == '"' || c == '\\' || c < 0x20) ? '_' : c;
    reply.headers.emplace_back("Content-Disposition", "inline; filename=\"" + safe_name + "\"");
    return reply;
  });

  // Immich's upload: multipart with the file in `assetData` (other fields are accepted and ignored). 201 for
  // a new asset, 200 with status "duplicate" when the content is already in the library.
  api.post("/api/assets", user_route(Permission::kAssetUpload), [&service](const ApiRequest& req) -> Expected<ApiResponse> {
    if (req.parts.empty()) return bad_request("Send the file as multipart/form-data in the field assetData");
    const auto* part = req.part("assetData");
    if (part == nullptr) return bad_request("assetData is required");
    std::string name(part->filename);
    if (name.empty()) name = req.part("filename") ? std::string(req.part("filename")->content) : "upload";
    const auto* data = reinterpret_cast<const std::uint8_t*>(part->content.data());
    auto result = service.upload(std::span<const std::uint8_t>(data, part->content.size()), name);
    if (!result) return result.error();
    return ApiResponse::json(
        {{"id", result->asset.id}, {"status", result->duplicate ? "duplicate" : "created"}},
        result->duplicate ? 200 : 201);
  });

  // Bulk delete as Immich: {ids, force?}; focal always moves to the trash (deletedAt), never removes
  // originals.
  api.del("/api/assets", user_route(Permission::kAssetDelete), [&service](const ApiRequest& req) -> Expected<ApiResponse> {
    auto body = req.json_body();
    if (!body) return body.error();
    auto ids = optional_ids(*body, "ids");
    if (!ids) return ids.error();
    if (!*ids || (*ids)->empty()) return bad_request("ids should not be empty");
    for (const auto id : **ids) {
      if (auto asset = existing_asset(service, id); !asset) return asset.error();
    }
    for (const auto id : **ids) {
      if (auto st = service.soft_delete(id); !st) return st.error();
    }
    return ApiResponse::no_content();
  });

  api.put("/api/assets/:id", user_route(Permission::kAssetUpdate), [&service](const ApiRequest& req) -> Expected<ApiResponse> {
    auto id = req.path_int("id");
    if (!id) return id.error();
    auto body = req.json_body();
    if (!body) return body.error();
    auto visibility_text = optional_string(*body, "visibility");
    if (!visibility_text) return visibility_text.error();
    if (auto asset = existing_asset(service, *id); !asset) return asset.error();
    if (*visibility_text) {
      auto visibility = library::parse_visibility(**visibility_text);
      if (!visibility) return bad_request("visibility must be one of archive, timeline, hidden, locked");
      if (auto st = service.set_visibility(*id, *visibility); !st) return st.error();
    }
    auto asset = existing_asset(service, *id);
    if (!asset) return asset.error();
    auto exif = service.assets().exif(*id);
    if (!exif) return exif.error();
    return ApiResponse::json(asset_json(*asset, *exif));
  });
}

}  // namespace focal::server
