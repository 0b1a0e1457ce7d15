// SPDX-License-Identifier: AGPL-3.0-or-later
// POST /api/search/smart (CLIP), POST /api/search/metadata (keyword search) and GET /api/search/suggestions
// (the search form's camera lists), Immich's DTOs.
#include "library/library.h"
#include "search/search.h"
#include "server/asset_json.h"
#include "server/routes.h"

namespace focal::server {
namespace {

using nlohmann::json;

Expected<std::optional<std::int64_t>> optional_date(const json& body, std::string_view key) {
  auto text = optional_string(body, key);
  if (!text) return text.error();
  if (!*text) return std::optional<std::int64_t>{};
  auto ms = parse_iso_time(**text);
  if (!ms) return bad_request(std::string(key) + " must be an ISO 8601 date string");
  return std::optional<std::int64_t>{*ms};
}

// The filters both searches share (Immich's search filters, the subset focal stores), always within the
// caller's own assets.
Expected<search::AssetFilter> parse_filter(const json& body, const Caller& caller) {
  search::AssetFilter filter;
  filter.owner_id = caller.user_id;
  auto after = optional_date(body, "takenAfter");
  if (!after) return after.error();
  filter.taken_after_ms = *after;
  auto before = optional_date(body, "takenBefore");
  if (!before) return before.error();
  filter.taken_before_ms = *before;
  for (auto [key, into] : {std::pair<const char*, std::optional<std::string>*>{"make", &filter.make},
                           {"model", &filter.model},
                           {"lensModel", &filter.lens_model},
                           {"fileType", &filter.file_type}}) {
    auto value = optional_string(body, key);
    if (!value) return value.error();
    *into = *value;
  }
  auto type = optional_string(body, "type");
  if (!type) return type.error();
  if (*type) {
    if (**type != "IMAGE" && **type != "VIDEO" && **type != "OTHER") {
      return bad_request("type must be one of IMAGE, VIDEO, OTHER");
    }
    filter.type = **type;
  }
  auto ocr = optional_string(body, "ocr");  // words read in the photo (OCR)
  if (!ocr) return ocr.error();
  if (*ocr && (*ocr)->find_first_not_of(" \t\r\n") != std::string::npos) filter.ocr_text = **ocr;
  auto people = optional_ids(body, "personIds");
  if (!people) return people.error();
  if (*people) filter.person_ids = **people;
  auto deleted = optional_bool(body, "withDeleted");
  if (!deleted) return deleted.error();
  filter.with_deleted = deleted->value_or(false);
  return filter;
}

Expected<int> page_param(const json& body, std::string_view key, int fallback, int max) {
  auto value = optional_int(body, key, 1, max);
  if (!value) return value.error();
  return static_cast<int>(value->value_or(fallback));
}

Expected<json> page_json(const search::SearchPage& page, const library::LibraryService& library,
                         const Caller& caller) {
  json items = json::array();
  for (const auto& hit : page.items) {
    auto asset = library.assets().get(hit.asset_id);
    if (!asset) return asset.error();
    if (!*asset || (*asset)->owner_id != caller.user_id) continue;  // gone between ranking and loading
    auto exif = library.assets().exif(hit.asset_id);
    if (!exif) return exif.error();
    items.push_back(detail::asset_json(**asset, *exif));
  }
  const auto count = items.size();
  return json{{"albums", {{"total", 0}, {"count", 0}, {"items", json::array()}, {"facets", json::array()}}},
              {"assets",
               {{"total", count},
                {"count", count},
                {"items", std::move(items)},
                {"facets", json::array()},
                {"nextPage", page.next_page ? json(std::to_string(*page.next_page)) : json(nullptr)}}}};
}

}  // namespace

void register_search_routes(Api& api, search::SmartSearchService& smart, search::KeywordSearch& keyword,
                            library::LibraryService& library) {
  api.post("/api/search/smart", user_route(Permission::kAssetRead),
           [&smart, &library](const ApiRequest& req) -> Expected<ApiResponse> {
             auto body = req.json_body();
             if (!body) return body.error();
             search::SmartSearchRequest request;
             auto query = optional_string(*body, "query");
             if (!query) return query.error();
             request.query = query->value_or("");
             auto query_asset = optional_id(*body, "queryAssetId");
             if (!query_asset) return query_asset.error();
             request.query_asset_id = *query_asset;
             auto language = optional_string(*body, "language");
             if (!language) return language.error();
             request.language = language->value_or("");
             auto page = page_param(*body, "page", 1, 1'000'000);
             if (!page) return page.error();
             request.page = *page;
             auto size = page_param(*body, "size", 100, 1000);
             if (!size) return size.error();
             request.size = *size;
             auto filter = parse_filter(*body, req.caller);
             if (!filter) return filter.error();
             request.filter = std::move(*filter);
             auto result = smart.search(request);
             if (!result) return result.error();
             auto out = page_json(*result, library, req.caller);
             if (!out) return out.error();
             return ApiResponse::json(*out);
           });

  // Keyword search: `query` (focal) or Immich's `originalFileName` / `description`, matched as words against
  // file name, description, camera, place and dates.
  api.post("/api/search/metadata", user_route(Permission::kAssetRead),
           [&keyword, &library](const ApiRequest& req) -> Expected<ApiResponse> {
             auto body = req.json_body();
             if (!body) return body.error();
             search::KeywordSearchRequest request;
             std::string words;
             for (const char* key : {"query", "originalFileName", "description"}) {
               auto value = optional_string(*body, key);
               if (!value) return value.error();
               if (*value && !(*value)->empty()) words += (words.empty() ? "" : " ") + **value;
             }
             request.query = words;
             auto page = page_param(*body, "page", 1, 1'000'000);
             if (!page) return page.error();
             request.page = *page;
             auto size = page_param(*body, "size", 250, 1000);
             if (!size) return size.error();
             request.size = *size;
             auto filter = parse_filter(*body, req.caller);
             if (!filter) return filter.error();
             request.filter = std::move(*filter);
             auto result = keyword.search(request);
             if (!result) return result.error();
             auto out = page_json(*result, library, req.caller);
             if (!out) return out.error();
             return ApiResponse::json(*out);
           });

  // ?type=camera-make | camera-model[&make=X]: the values the caller's own assets have (Immich's names; the
  // other Immich types need data focal does not keep).
  api.get("/api/search/suggestions", user_route(Permission::kAssetRead),
          [&library](const ApiRequest& req) -> Expected<ApiResponse> {
            const auto type = req.query_value("type").value_or("");
            library::ExifField field = library::ExifField::kMake;
            if (type == "camera-model") {
              field = library::ExifField::kModel;
            } else if (type != "camera-make") {
              return bad_request("type must be one of camera-make, camera-model");
            }
            std::optional<std::string> make;
            if (field == library::ExifField::kModel) {
              make = req.query_value("make");
              if (make && make->empty()) make.reset();
            }
            library::AssetFilter filter;
            filter.owner_id = req.caller.user_id;
            auto values = library.assets().exif_values(field, filter, make);
            if (!values) return values.error();
            return ApiResponse::json(*values);
          });
}

}  // namespace focal::server
