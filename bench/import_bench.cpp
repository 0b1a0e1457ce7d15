// SPDX-License-Identifier: AGPL-3.0-or-later
// Library import throughput: scan (walk + sniff + SHA-256 + asset rows + job rows), then the metadata (exiv2
// + header) and preview/thumbnail (libvips) jobs drained with the default queue concurrency, on a fresh data
// dir each round. Prints JSON.
//   import_bench FOLDER [ROUNDS] [METADATA_CONCURRENCY] [THUMBNAIL_CONCURRENCY]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "core/logging.h"
#include "jobs/jobs.h"
#include "library/library.h"
#include "store/database.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: import_bench FOLDER [ROUNDS] [METADATA_CONCURRENCY] [THUMBNAIL_CONCURRENCY]\n";
    return 2;
  }
  const fs::path folder = argv[1];
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  const int metadata_concurrency = argc > 3 ? std::atoi(argv[3]) : 0;
  const int thumbnail_concurrency = argc > 4 ? std::atoi(argv[4]) : 0;
  spdlog::set_level(spdlog::level::err);

  std::vector<double> scan_s;
  std::vector<double> process_s;
  std::vector<double> total_s;
  nlohmann::json last;
  for (int round = 0; round < rounds; ++round) {
    std::random_device random;
    const fs::path work = fs::temp_directory_path() / ("focal-import-bench-" + std::to_string(random()));
    fs::create_directories(work);
    {
      auto db = focal::store::Database::open({.path = work / "focal.db", .reader_connections = 4});
      if (!db || !focal::jobs::migrate(**db) || !focal::library::migrate(**db)) {
        std::cerr << "database set-up failed\n";
        return 1;
      }
      auto queue = focal::jobs::JobQueue::open(**db);
      if (!queue) {
        std::cerr << queue.error().message << "\n";
        return 1;
      }
      if (metadata_concurrency > 0) (*queue)->set_concurrency("metadataExtraction", metadata_concurrency);
      if (thumbnail_concurrency > 0) (*queue)->set_concurrency("thumbnailGeneration", thumbnail_concurrency);
      focal::library::LibraryOptions options;
      options.data_dir = work / "data";
      auto library = focal::library::LibraryService::create(**db, **queue, options);
      if (!library) {
        std::cerr << library.error().message << "\n";
        return 1;
      }
      const auto start = Clock::now();
      auto report = (*library)->import_folder(folder, 1);
      if (!report) {
        std::cerr << report.error().message << "\n";
        return 1;
      }
      const double scanned = seconds_since(start);
      const auto process_start = Clock::now();
      focal::jobs::DrainOptions drain;
      drain.queues = {"metadataExtraction", "thumbnailGeneration"};
      auto drained = (*queue)->run_until_idle(drain);
      if (!drained) {
        std::cerr << drained.error().message << "\n";
        return 1;
      }
      const double processed = seconds_since(process_start);
      scan_s.push_back(scanned);
      process_s.push_back(processed);
      total_s.push_back(scanned + processed);
      focal::library::AssetFilter with_preview;
      with_preview.require_preview = true;
      last = {{"files_seen", report->files_seen},
              {"imported", report->imported},
              {"duplicates", report->duplicates},
              {"unsupported", report->unsupported},
              {"with_preview", *(*library)->assets().count(with_preview)},
              {"jobs_processed", drained->processed},
              {"metadata_concurrency", (*queue)->concurrency("metadataExtraction")},
              {"thumbnail_concurrency", (*queue)->concurrency("thumbnailGeneration")}};
      // Assets that did not become ready, with the recorded reason.
      nlohmann::json not_ready = nlohmann::json::array();
      focal::library::AssetFilter all;
      all.include_hidden = true;
      auto ids = (*library)->assets().page_ids(0, 1'000'000, all);
      for (auto id : ids ? *ids : std::vector<std::int64_t>{}) {
        auto asset = (*library)->assets().get(id);
        if (!asset || !*asset || (*asset)->status == focal::library::AssetStatus::kReady) continue;
        not_ready.push_back({{"file", (*asset)->original_file_name},
                             {"status", focal::library::to_string((*asset)->status)},
                             {"reason", (*asset)->status_reason}});
      }
      last["not_ready"] = not_ready;
    }
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  const double imported = last["imported"].get<double>();
  last["rounds"] = rounds;
  last["scan_s_median"] = median(scan_s);
  last["process_s_median"] = median(process_s);
  last["total_s_median"] = median(total_s);
  last["scan_files_per_s"] = last["files_seen"].get<double>() / median(scan_s);
  last["import_photos_per_s"] = imported / median(total_s);
  last["cpus"] = std::thread::hardware_concurrency();
  std::cout << last.dump(2) << "\n";
  return 0;
}
