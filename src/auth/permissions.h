// SPDX-License-Identifier: AGPL-3.0-or-later
// API key permissions, named as Immich names them ("asset.read", ...). A login session may do everything its
// user may; an API key only what its permissions list ("all" included) allows. Each route of the library
// server states the permission it needs.
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace focal::auth {

enum class Permission {
  kNone,  // public routes only
  kAll,
  kAssetRead,
  kAssetUpdate,
  kAssetDelete,
  kAssetUpload,
  kAssetView,      // thumbnails and previews
  kAssetDownload,  // originals
  kLibraryRead,
  kLibraryCreate,
  kLibraryUpdate,
  kLibraryDelete,
  kPersonRead,
  kPersonCreate,
  kPersonUpdate,
  kPersonDelete,
  kPersonMerge,
  kPersonReassign,
  kFaceRead,
  kFaceUpdate,
  kFaceDelete,
  kDuplicateRead,
  kDuplicateDelete,
  kJobRead,
  kJobCreate,
  kSystemConfigRead,
  kSystemConfigUpdate,
  kUserRead,
  kAdminUserRead,
  kAdminUserCreate,
  kApiKeyCreate,
  kApiKeyRead,
  kApiKeyDelete,
  kSessionDelete,
  kServerAbout,
  kCount,
};

std::string_view to_string(Permission permission);
std::optional<Permission> parse_permission(std::string_view text);
// Every permission name an API key may be given ("all" first).
std::vector<std::string> permission_names();

class PermissionSet {
 public:
  static PermissionSet all();
  static PermissionSet none() { return {}; }
  // Parses a JSON-ish list of names; nullopt naming nothing when one is unknown (the caller reports it).
  static std::optional<PermissionSet> parse(const std::vector<std::string>& names,
                                            std::string* unknown = nullptr);

  void add(Permission permission);
  bool contains(Permission permission) const;
  bool empty() const { return bits_.none(); }
  std::vector<std::string> names() const;  // "all" alone when it has all
  // Comma-separated names, the stored form.
  std::string serialize() const;
  static PermissionSet deserialize(std::string_view text);

 private:
  std::bitset<static_cast<std::size_t>(Permission::kCount)> bits_;
};

}  // namespace focal::auth
