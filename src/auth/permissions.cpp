// SPDX-License-Identifier: AGPL-3.0-or-later
#include "auth/permissions.h"

#include <array>
#include <utility>

namespace focal::auth {
namespace {

constexpr std::array<std::pair<Permission, std::string_view>, static_cast<std::size_t>(Permission::kCount)>
    kNames{{
        {Permission::kNone, ""},
        {Permission::kAll, "all"},
        {Permission::kAssetRead, "asset.read"},
        {Permission::kAssetUpdate, "asset.update"},
        {Permission::kAssetDelete, "asset.delete"},
        {Permission::kAssetUpload, "asset.upload"},
        {Permission::kAssetView, "asset.view"},
        {Permission::kAssetDownload, "asset.download"},
        {Permission::kLibraryRead, "library.read"},
        {Permission::kLibraryCreate, "library.create"},
        {Permission::kLibraryUpdate, "library.update"},
        {Permission::kLibraryDelete, "library.delete"},
        {Permission::kPersonRead, "person.read"},
        {Permission::kPersonCreate, "person.create"},
        {Permission::kPersonUpdate, "person.update"},
        {Permission::kPersonDelete, "person.delete"},
        {Permission::kPersonMerge, "person.merge"},
        {Permission::kPersonReassign, "person.reassign"},
        {Permission::kFaceRead, "face.read"},
        {Permission::kFaceUpdate, "face.update"},
        {Permission::kFaceDelete, "face.delete"},
        {Permission::kDuplicateRead, "duplicate.read"},
        {Permission::kDuplicateDelete, "duplicate.delete"},
        {Permission::kJobRead, "job.read"},
        {Permission::kJobCreate, "job.create"},
        {Permission::kSystemConfigRead, "systemConfig.read"},
        {Permission::kSystemConfigUpdate, "systemConfig.update"},
        {Permission::kUserRead, "user.read"},
        {Permission::kAdminUserRead, "adminUser.read"},
        {Permission::kAdminUserCreate, "adminUser.create"},
        {Permission::kApiKeyCreate, "apiKey.create"},
        {Permission::kApiKeyRead, "apiKey.read"},
        {Permission::kApiKeyDelete, "apiKey.delete"},
        {Permission::kSessionDelete, "session.delete"},
        {Permission::kServerAbout, "server.about"},
    }};

constexpr std::size_t index(Permission permission) { return static_cast<std::size_t>(permission); }

}  // namespace

std::string_view to_string(Permission permission) {
  const auto i = index(permission);
  return i < kNames.size() ? kNames[i].second : "";
}

std::optional<Permission> parse_permission(std::string_view text) {
  for (const auto& [permission, name] : kNames) {
    if (!name.empty() && name == text) return permission;
  }
  return std::nullopt;
}

std::vector<std::string> permission_names() {
  std::vector<std::string> out;
  for (const auto& [permission, name] : kNames) {
    if (!name.empty()) out.emplace_back(name);
  }
  return out;
}

PermissionSet PermissionSet::all() {
  PermissionSet set;
  set.add(Permission::kAll);
  return set;
}

std::optional<PermissionSet> PermissionSet::parse(const std::vector<std::string>& names,
                                                  std::string* unknown) {
  PermissionSet set;
  for (const auto& name : names) {
    const auto permission = parse_permission(name);
    if (!permission) {
      if (unknown != nullptr) *unknown = name;
      return std::nullopt;
    }
    set.add(*permission);
  }
  return set;
}

void PermissionSet::add(Permission permission) {
  if (permission != Permission::kNone && permission != Permission::kCount) bits_.set(index(permission));
}

bool PermissionSet::contains(Permission permission) const {
  if (permission == Permission::kNone) return true;
  return bits_.test(index(Permission::kAll)) || bits_.test(index(permission));
}

std::vector<std::string> PermissionSet::names() const {
  if (bits_.test(index(Permission::kAll))) return {"all"};
  std::vector<std::string> out;
  for (const auto& [permission, name] : kNames) {
    if (!name.empty() && bits_.test(index(permission))) out.emplace_back(name);
  }
  return out;
}

std::string PermissionSet::serialize() const {
  std::string out;
  for (const auto& name : names()) out += (out.empty() ? "" : ",") + name;
  return out;
}

PermissionSet PermissionSet::deserialize(std::string_view text) {
  PermissionSet set;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto name =
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (const auto permission = parse_permission(name)) set.add(*permission);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return set;
}

}  // namespace focal::auth
