// SPDX-License-Identifier: AGPL-3.0-or-later
// The web UI's timeline: the caller's assets by UTC calendar month of the date taken (file_created_at): those
// on the timeline only (not trashed; not archived, hidden or locked, as Immich's timeline).
#include <ctime>

#include "library/library.h"
#include "server/routes.h"

namespace focal::server {
namespace {

using nlohmann::json;

library::AssetFilter timeline_filter(const Caller& caller) {
  library::AssetFilter filter;
  filter.owner_id = caller.user_id;
  filter.visibility = library::Visibility::kTimeline;
  return filter;
}

// The first instant of the UTC month containing `ms`, and of the month after.
std::pair<std::int64_t, std::int64_t> month_of(std::int64_t ms) {
  const auto seconds = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  tm.tm_mday = 1;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  const auto start = static_cast<std::int64_t>(timegm(&tm)) * 1000;
  tm.tm_mon += 1;  // timegm normalises December + 1 into January of the next year
  const auto end = static_cast<std::int64_t>(timegm(&tm)) * 1000;
  return {start, end};
}

json timeline_asset_json(const library::Asset& asset) {
  return {{"id", asset.id},
          {"fileCreatedAt", iso_time(asset.file_created_at_ms)},
          {"width", asset.width},
          {"height", asset.height},
          {"originalFileName", asset.original_file_name},
          {"type", library::to_string(asset.type)},
          {"isFavorite", asset.is_favorite}};
}

}  // namespace

void register_timeline_routes(Api& api, library::LibraryService& library) {
  api.get("/api/timeline/buckets", user_route(Permission::kAssetRead),
          [&library](const ApiRequest& req) -> Expected<ApiResponse> {
            auto buckets = library.assets().time_buckets(timeline_filter(req.caller));
            if (!buckets) return buckets.error();
            json out = json::array();
            for (const auto& bucket : *buckets) {
              out.push_back({{"timeBucket", iso_time(bucket.start_ms)}, {"count", bucket.count}});
            }
            return ApiResponse::json(out);
          });

  // ?timeBucket=<a date in the month>: the whole month it falls in (UTC), newest first.
  api.get("/api/timeline/bucket", user_route(Permission::kAssetRead),
          [&library](const ApiRequest& req) -> Expected<ApiResponse> {
            const auto text = req.query_value("timeBucket");
            if (!text || text->empty()) return bad_request("timeBucket is required");
            const auto ms = parse_iso_time(*text);
            if (!ms) {
              return bad_request(
                  "timeBucket must be an ISO 8601 date (a month's first day, e.g. "
                  "2024-05-01T00:00:00.000Z), not '" +
                  text->substr(0, 64) + "'");
            }
            const auto [start, end] = month_of(*ms);
            auto assets = library.assets().created_between(timeline_filter(req.caller), start, end);
            if (!assets) return assets.error();
            json items = json::array();
            for (const auto& asset : *assets) items.push_back(timeline_asset_json(asset));
            return ApiResponse::json({{"timeBucket", iso_time(start)}, {"assets", std::move(items)}});
          });
}

}  // namespace focal::server
