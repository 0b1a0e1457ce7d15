// SPDX-License-Identifier: AGPL-3.0-or-later
// Progress of foreground job runs (`focal import --wait`, `focal jobs run`): one bar per queue that has work,
// sized to the terminal and redrawn in place on a TTY; a plain summary line every few seconds otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "jobs/jobs.h"

namespace focal::app {

struct QueueProgress {
  std::string name;
  std::int64_t done = 0;   // finished during this run (any outcome)
  std::int64_t total = 0;  // done + still pending (active, waiting, paused, delayed)
  std::int64_t failed = 0;
  std::int64_t delayed = 0;  // waiting to retry
};

using QueueBaseline = std::map<std::string, jobs::QueueCounts, std::less<>>;
QueueBaseline baseline_of(const std::vector<jobs::QueueStatus>& queues);

// The queues with work since `baseline` (what was completed or failed before the run does not count).
std::vector<QueueProgress> queue_progress(const std::vector<jobs::QueueStatus>& queues,
                                          const QueueBaseline& baseline);

// One line per queue, none longer than `width` columns: "name  [#####-----]  done/total  (n failed)". The
// bar shrinks with the terminal and is left out below a few columns.
std::vector<std::string> render_bars(std::span<const QueueProgress> rows, std::size_t width);

// The width of the terminal on `fd`; $COLUMNS, else 80, when it is not a terminal or does not say.
std::size_t terminal_width(int fd);

class ProgressDisplay {
 public:
  // `tty`: redraw bars in place on `out`; otherwise print a summary line at most every `interval`.
  ProgressDisplay(std::FILE* out, bool tty, std::chrono::milliseconds interval = std::chrono::seconds(2));
  void update(std::span<const QueueProgress> rows);

 private:
  std::FILE* out_;
  bool tty_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_line_{};
  std::size_t lines_drawn_ = 0;
};

}  // namespace focal::app
