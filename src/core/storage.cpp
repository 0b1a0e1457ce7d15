// SPDX-License-Identifier: AGPL-3.0-or-later
#include "core/storage.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <random>
#include <sstream>

namespace focal {

std::optional<std::uint64_t> free_bytes(const std::filesystem::path& path) {
  auto probe = path;
  struct statvfs info {};
  // The path may not exist yet (a file about to be written): ask its nearest existing parent.
  while (!probe.empty() && statvfs(probe.c_str(), &info) != 0) {
    if (probe == probe.parent_path()) return std::nullopt;
    probe = probe.parent_path();
  }
  if (probe.empty()) return std::nullopt;
  return static_cast<std::uint64_t>(info.f_bavail) * info.f_frsize;
}

Error storage_full(const std::filesystem::path& path, std::string_view what) {
  const auto free = free_bytes(path);
  const auto where = path.empty() ? std::string("the data directory") : path.string();
  const auto space = free ? fmt::format("{} MB free on {}", *free / (1024 * 1024), where) : "on " + where;
  return Error{ErrorKind::kStorageFull,
               fmt::format("data directory full: {} ({}); free some space and retry", space, what)};
}

bool is_out_of_space(std::error_code ec) {
  return ec == std::errc::no_space_on_device || ec.value() == EDQUOT;
}

Error storage_error(std::string_view what, std::error_code ec, const std::filesystem::path& where) {
  if (is_out_of_space(ec)) return storage_full(where, fmt::format("{}: {}", what, ec.message()));
  return internal_error(fmt::format("{}: {}", what, ec.message()));
}

Status write_file(const std::filesystem::path& path, std::span<const std::uint8_t> bytes, bool durable) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return storage_error("cannot create " + path.string(), {errno, std::generic_category()}, path);
  const auto fail = [&](const char* step) {
    const std::error_code ec(errno, std::generic_category());
    ::close(fd);
    return storage_error(fmt::format("cannot {} {}", step, path.string()), ec, path.parent_path());
  };
  const auto* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const auto n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return fail("write");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (durable && ::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0)
    return storage_error("cannot close " + path.string(), {errno, std::generic_category()}, path);
  return {};
}

Status write_file_atomically(const std::filesystem::path& target, std::span<const std::uint8_t> bytes,
                             bool durable) {
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  if (ec) return storage_error("cannot create " + target.parent_path().string(), ec, target.parent_path());
  std::random_device random;
  const auto temporary =
      target.parent_path() / fmt::format(".{}.{:08x}.tmp", target.filename().string(), random());
  if (Status written = write_file(temporary, bytes, durable); !written) {
    std::filesystem::remove(temporary, ec);
    return written;
  }
  std::filesystem::rename(temporary, target, ec);
  if (ec) {
    std::filesystem::remove(temporary, ec);
    return storage_error("cannot rename " + temporary.string(), ec, target.parent_path());
  }
  return {};
}

Expected<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot read " + path.string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in && !in.eof()) return internal_error("error reading " + path.string());
  return bytes.str();
}

}  // namespace focal
