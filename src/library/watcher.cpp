// SPDX-License-Identifier: AGPL-3.0-or-later
#include "library/watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/logging.h"

namespace focal::library::detail {
namespace {

constexpr std::uint32_t kDirMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF;

bool hidden(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

}  // namespace

Expected<std::unique_ptr<Watcher>> Watcher::create(std::chrono::milliseconds debounce, OnFile on_file) {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return internal_error(fmt::format("inotify_init1: {}", std::strerror(errno)));
  const int stop = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop < 0) {
    close(fd);
    return internal_error(fmt::format("eventfd: {}", std::strerror(errno)));
  }
  std::unique_ptr<Watcher> watcher(new Watcher(fd, stop, debounce, std::move(on_file)));
  watcher->thread_ = std::thread([w = watcher.get()] { w->loop(); });
  return watcher;
}

Watcher::Watcher(int inotify_fd, int stop_fd, std::chrono::milliseconds debounce, OnFile on_file)
    : inotify_fd_(inotify_fd), stop_fd_(stop_fd), debounce_(debounce), on_file_(std::move(on_file)) {}

Watcher::~Watcher() {
  const std::uint64_t one = 1;
  if (write(stop_fd_, &one, sizeof one) < 0)
    spdlog::warn("watcher: cannot signal stop: {}", std::strerror(errno));
  if (thread_.joinable()) thread_.join();
  close(inotify_fd_);
  close(stop_fd_);
}

Status Watcher::add(const std::filesystem::path& folder, std::int64_t library_id) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) {
    return bad_request(fmt::format("cannot watch {}: not a directory", folder.string()));
  }
  add_tree(folder, library_id, false);
  return {};
}

void Watcher::add_tree(const std::filesystem::path& folder, std::int64_t library_id, bool report_files) {
  std::vector<std::filesystem::path> stack{folder};
  const auto now = std::chrono::steady_clock::now();
  while (!stack.empty()) {
    const auto dir = stack.back();
    stack.pop_back();
    const int wd = inotify_add_watch(inotify_fd_, dir.c_str(), kDirMask);
    if (wd < 0) {
      spdlog::warn("watcher: cannot watch {}: {}", dir.string(), std::strerror(errno));
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      dirs_[wd] = Dir{dir, library_id};
    }
    std::error_code ec;
    for (std::filesystem::directory_iterator
             it(dir, std::filesystem::directory_options::skip_permission_denied, ec),
         end;
         !ec && it != end; it.increment(ec)) {
      if (hidden(it->path())) continue;
      std::error_code type_ec;
      if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) {
        stack.push_back(it->path());
      } else if (report_files && it->is_regular_file(type_ec)) {
        // Files created in a new folder before its watch existed.
        std::lock_guard lock(mutex_);
        pending_[it->path()] = Pending{library_id, now};
      }
    }
  }
}

void Watcher::loop() {
  alignas(inotify_event) std::array<char, 64 * 1024> buffer{};
  while (true) {
    std::array<pollfd, 2> fds{{{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}}};
    const int timeout_ms = static_cast<int>(std::max<std::int64_t>(50, debounce_.count() / 4));
    const int ready = poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0 && errno != EINTR) {
      spdlog::error("watcher: poll failed: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents & POLLIN) return;
    if (fds[0].revents & POLLIN) {
      while (true) {
        const ssize_t got = read(inotify_fd_, buffer.data(), buffer.size());
        if (got <= 0) break;
        const auto now = std::chrono::steady_clock::now();
        for (ssize_t offset = 0; offset < got;) {
          const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + offset);
          offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
          if (event->mask & IN_Q_OVERFLOW) {
            spdlog::warn("watcher: event queue overflow; run a rescan to catch up");
            continue;
          }
          Dir dir;
          {
            std::lock_guard lock(mutex_);
            auto it = dirs_.find(event->wd);
            if (it == dirs_.end()) continue;
            if (event->mask & (IN_DELETE_SELF | IN_IGNORED)) {
              dirs_.erase(it);
              continue;
            }
            dir = it->second;
          }
          if (event->len == 0) continue;
          const auto path = dir.path / event->name;
          if (hidden(path)) continue;
          if (event->mask & IN_ISDIR) {
            if (event->mask & (IN_CREATE | IN_MOVED_TO)) add_tree(path, dir.library_id, true);
            continue;
          }
          if (event->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)) {
            std::lock_guard lock(mutex_);
            pending_[path] = Pending{dir.library_id, now};
          }
        }
      }
    }
    // Report files that have been quiet for the debounce period.
    std::vector<std::pair<std::filesystem::path, std::int64_t>> settled;
    {
      std::lock_guard lock(mutex_);
      const auto now = std::chrono::steady_clock::now();
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (now - it->second.last_event >= debounce_) {
          settled.emplace_back(it->first, it->second.library_id);
          it = pending_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (const auto& [path, library_id] : settled) {
      try {
        on_file_(path, library_id);
      } catch (const std::exception& e) {
        spdlog::error("watcher: importing {} failed: {}", path.string(), e.what());
      }
    }
  }
}

}  // namespace focal::library::detail
