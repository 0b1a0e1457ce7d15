// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal: a recursive inotify watcher that reports files once they have been quiet for a debounce period.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "core/error.h"

namespace focal::library::detail {

class Watcher {
 public:
  // Called on the watcher thread for each settled file (written and closed, or moved in).
  using OnFile = std::function<void(const std::filesystem::path& file, std::int64_t library_id)>;

  static Expected<std::unique_ptr<Watcher>> create(std::chrono::milliseconds debounce, OnFile on_file);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Watches `folder` and every sub-folder (present and future) for library `library_id`.
  Status add(const std::filesystem::path& folder, std::int64_t library_id);

 private:
  Watcher(int inotify_fd, int stop_fd, std::chrono::milliseconds debounce, OnFile on_file);
  void add_tree(const std::filesystem::path& folder, std::int64_t library_id, bool report_files);
  void loop();

  int inotify_fd_;
  int stop_fd_;
  std::chrono::milliseconds debounce_;
  OnFile on_file_;
  std::mutex mutex_;  // guards the maps below
  struct Dir {
    std::filesystem::path path;
    std::int64_t library_id;
  };
  std::map<int, Dir> dirs_;  // watch descriptor → folder
  struct Pending {
    std::int64_t library_id;
    std::chrono::steady_clock::time_point last_event;
  };
  std::map<std::filesystem::path, Pending> pending_;
  std::thread thread_;
};

}  // namespace focal::library::detail
