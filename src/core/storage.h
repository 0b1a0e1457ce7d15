// SPDX-License-Identifier: AGPL-3.0-or-later
// Disk errors as values: a full disk (ENOSPC, EDQUOT, SQLite's SQLITE_FULL) is ErrorKind::kStorageFull with
// one clear message ("data directory full: 12 MB free on /srv/focal; ..."), never a generic 500, so that
// callers can stop the affected work and keep it queued instead of failing or retrying it in a loop.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include "core/error.h"

namespace focal {

// Free bytes for an unprivileged writer on the file system holding `path` (nullopt when unknown).
std::optional<std::uint64_t> free_bytes(const std::filesystem::path& path);

// kStorageFull naming the free space at `path` and what failed.
Error storage_full(const std::filesystem::path& path, std::string_view what);

// kStorageFull for ENOSPC/EDQUOT, kInternal otherwise; the message says what failed and why.
Error storage_error(std::string_view what, std::error_code ec, const std::filesystem::path& where = {});

bool is_out_of_space(std::error_code ec);

// Writes `bytes` to `path` (created or truncated), fsynced when `durable` (originals; derived files such as
// previews can be made again); errors as above.
Status write_file(const std::filesystem::path& path, std::span<const std::uint8_t> bytes, bool durable);

// The whole file (kNotFound naming it when it cannot be opened, kInternal on a read error).
Expected<std::string> read_file(const std::filesystem::path& path);

// write_file to a temporary name beside `target`, then an atomic rename over it.
Status write_file_atomically(const std::filesystem::path& target, std::span<const std::uint8_t> bytes,
                             bool durable);

}  // namespace focal
