// SPDX-License-Identifier: AGPL-3.0-or-later
#include "server/asset_json.h"

namespace focal::server::detail {
namespace {

using nlohmann::json;

template <class T>
json optional_json(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

}  // namespace

json asset_json(const library::Asset& asset, const std::optional<library::Exif>& exif) {
  json out = {{"id", asset.id},
              {"ownerId", asset.owner_id},
              {"isFavorite", asset.is_favorite},
              {"type", std::string(library::to_string(asset.type))},
              {"status", std::string(library::to_string(asset.status))},
              {"visibility", std::string(library::to_string(asset.visibility))},
              {"isArchived", asset.visibility == library::Visibility::kArchive},
              {"isTrashed", asset.deleted_at_ms.has_value()},
              {"libraryId", optional_json(asset.library_id)},
              {"originalFileName", asset.original_file_name},
              {"originalPath", asset.original_path},
              {"checksum", asset.checksum},
              {"fileType", asset.file_type},
              {"fileSize", asset.file_size},
              {"width", asset.width},
              {"height", asset.height},
              {"fileCreatedAt", iso_time(asset.file_created_at_ms)},
              {"fileModifiedAt", iso_time(asset.file_modified_at_ms)},
              {"createdAt", iso_time(asset.created_at_ms)},
              {"deletedAt", asset.deleted_at_ms ? json(iso_time(*asset.deleted_at_ms)) : json(nullptr)}};
  if (!asset.status_reason.empty()) out["statusReason"] = asset.status_reason;
  if (exif) {
    out["exifInfo"] = {{"make", optional_json(exif->make)},
                       {"model", optional_json(exif->model)},
                       {"lensModel", optional_json(exif->lens_model)},
                       {"description", optional_json(exif->description)},
                       {"rating", optional_json(exif->rating)},
                       {"orientation", optional_json(exif->orientation)},
                       {"latitude", optional_json(exif->latitude)},
                       {"longitude", optional_json(exif->longitude)},
                       {"dateTimeOriginal", optional_json(exif->date_time_original)},
                       {"timeZone", optional_json(exif->time_zone)},
                       {"exifImageWidth", optional_json(exif->exif_image_width)},
                       {"exifImageHeight", optional_json(exif->exif_image_height)},
                       {"fileSizeInByte", exif->file_size}};
  }
  return out;
}

Expected<library::Asset> owned_asset(const library::AssetRepository& assets, std::int64_t id,
                                     const Caller& caller) {
  auto asset = assets.get(id);
  if (!asset) return asset.error();
  if (!*asset || (*asset)->owner_id != caller.user_id)
    return not_found("Asset " + std::to_string(id) + " not found");
  return **asset;
}

std::string mime_type(std::string_view file_type) {
  if (file_type == "jpeg") return "image/jpeg";
  if (file_type == "png") return "image/png";
  if (file_type == "webp") return "image/webp";
  if (file_type == "heif") return "image/heif";
  if (file_type == "tiff") return "image/tiff";
  if (file_type == "gif") return "image/gif";
  if (file_type == "bmp") return "image/bmp";
  return "application/octet-stream";
}

}  // namespace focal::server::detail
