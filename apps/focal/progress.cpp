// SPDX-License-Identifier: AGPL-3.0-or-later
#include "progress.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cstdlib>

namespace focal::app {
namespace {

constexpr std::size_t kMinBar = 5;         // narrower than this, the bar is left out
constexpr std::size_t kMaxNameWidth = 22;  // longest queue name ("thumbnailGeneration" and friends)

std::int64_t pending(const jobs::QueueCounts& c) { return c.active + c.waiting + c.paused + c.delayed; }

}  // namespace

QueueBaseline baseline_of(const std::vector<jobs::QueueStatus>& queues) {
  QueueBaseline out;
  for (const auto& q : queues) out[q.name] = q.counts;
  return out;
}

std::vector<QueueProgress> queue_progress(const std::vector<jobs::QueueStatus>& queues,
                                          const QueueBaseline& baseline) {
  std::vector<QueueProgress> rows;
  for (const auto& q : queues) {
    const auto before = baseline.find(q.name);
    const jobs::QueueCounts start = before == baseline.end() ? jobs::QueueCounts{} : before->second;
    // The failed count can fall (failed jobs cleared meanwhile); never report negative progress.
    const std::int64_t failed = std::max<std::int64_t>(0, q.counts.failed - start.failed);
    const std::int64_t done = std::max<std::int64_t>(0, q.counts.completed - start.completed) + failed;
    const std::int64_t total = done + pending(q.counts);
    if (total == 0) continue;
    rows.push_back(QueueProgress{q.name, done, total, failed, q.counts.delayed});
  }
  return rows;
}

std::vector<std::string> render_bars(std::span<const QueueProgress> rows, std::size_t width) {
  std::size_t name_width = 0;
  for (const auto& row : rows) name_width = std::max(name_width, std::min(row.name.size(), kMaxNameWidth));
  std::vector<std::string> lines;
  for (const auto& row : rows) {
    std::string counts = std::to_string(row.done) + "/" + std::to_string(row.total);
    if (row.failed > 0) counts += "  " + std::to_string(row.failed) + " failed";
    if (row.delayed > 0) counts += "  " + std::to_string(row.delayed) + " retrying";
    std::string name = row.name.substr(0, name_width);
    name.resize(name_width, ' ');
    // name, two spaces, "[bar]", two spaces, counts.
    const std::size_t fixed = name_width + 2 + 2 + 2 + counts.size();
    std::string line = name + "  ";
    if (width > fixed + kMinBar) {
      const std::size_t bar = width - fixed;
      const auto filled =
          row.total > 0 ? static_cast<std::size_t>(static_cast<double>(bar) * static_cast<double>(row.done) /
                                                   static_cast<double>(row.total))
                        : bar;
      line += "[" + std::string(filled, '#') + std::string(bar - filled, '-') + "]  ";
    }
    line += counts;
    if (line.size() > width) line.resize(width);
    lines.push_back(std::move(line));
  }
  return lines;
}

std::size_t terminal_width(int fd) {
  winsize size{};
  if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    char* end = nullptr;
    const long value = std::strtol(columns, &end, 10);
    if (end != columns && *end == '\0' && value > 0 && value < 10000) return static_cast<std::size_t>(value);
  }
  return 80;
}

ProgressDisplay::ProgressDisplay(std::FILE* out, bool tty, std::chrono::milliseconds interval)
    : out_(out), tty_(tty), interval_(interval) {}

void ProgressDisplay::update(std::span<const QueueProgress> rows) {
  if (tty_) {
    // Back to the first bar, then rewrite every line (cleared first, so shorter text leaves nothing behind);
    // one column less than the terminal so that no line wraps.
    std::string frame;
    if (lines_drawn_ > 0) frame += "\x1b[" + std::to_string(lines_drawn_) + "A";
    const std::size_t width = std::max<std::size_t>(terminal_width(fileno(out_)), 2) - 1;
    const auto lines = render_bars(rows, width);
    for (const auto& line : lines) frame += "\r\x1b[2K" + line + "\n";
    // Queues that went away (none do today: finished queues keep their full bar) are cleared.
    for (std::size_t i = lines.size(); i < lines_drawn_; ++i) frame += "\r\x1b[2K\n";
    lines_drawn_ = std::max(lines_drawn_, lines.size());
    std::fputs(frame.c_str(), out_);
    std::fflush(out_);
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - last_line_ < interval_) return;
  last_line_ = now;
  std::int64_t done = 0;
  std::int64_t total = 0;
  std::string summary;
  for (const auto& row : rows) {
    done += row.done;
    total += row.total;
    if (row.done == row.total) continue;
    if (!summary.empty()) summary += ", ";
    summary += row.name + " " + std::to_string(row.done) + "/" + std::to_string(row.total);
  }
  std::fprintf(out_, "jobs: %lld/%lld done (%s)\n", static_cast<long long>(done),
               static_cast<long long>(total), summary.empty() ? "idle" : summary.c_str());
  std::fflush(out_);
}

}  // namespace focal::app
