// SPDX-License-Identifier: AGPL-3.0-or-later
// Smart-search k-NN benchmark: exact scan vs HNSW on synthetic CLIP-like embeddings.
//
// For each size: build time, query latency p50/p99 (one query at a time, as the search endpoint runs them),
// recall@k of HNSW against the exact result, and process RSS. The data is clustered (CLIP embeddings of a
// photo library are: many near-duplicates and themes), queries are noisy points near random clusters; --data
// random uses isotropic Gaussian vectors instead (the hard case for graph indexes).
//
//   build/search/bench/search_bench --sizes 10000,100000,1000000 --queries 200
//
// An HNSW build that exceeds --hnsw-budget-s stops at the next chunk and reports the size it reached.
//
// Then the built HNSW index is saved (save_index, as smart search does beside the database), freed and read
// back (load_index): save and load times, file size, RSS before and after the load, bytes per million
// vectors, the rebuild/load ratio, and whether the loaded index answers every query exactly as the built
// one. The file goes to --index-dir (default: the system temporary folder) and is removed afterwards.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "search/vector_index.h"

namespace {

using focal::search::Neighbor;
using focal::search::VectorId;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

long rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  return -1;
}

struct Data {
  std::vector<float> rows;
  std::vector<float> queries;
};

Data make_data(std::size_t n, std::size_t dim, std::size_t queries, bool clustered, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Data data;
  data.rows.resize(n * dim);
  data.queries.resize(queries * dim);
  if (!clustered) {
    for (auto& v : data.rows) v = normal(rng);
    for (auto& v : data.queries) v = normal(rng);
    return data;
  }
  const std::size_t clusters = std::max<std::size_t>(16, n / 100);
  std::vector<float> centers(clusters * dim);
  for (auto& v : centers) v = normal(rng);
  std::uniform_int_distribution<std::size_t> pick(0, clusters - 1);
  // Noise comparable to the centre norm: neighbours within a cluster are close but not identical.
  const float spread = 0.6f;
  auto fill = [&](float* out) {
    const float* center = &centers[pick(rng) * dim];
    for (std::size_t j = 0; j < dim; ++j) out[j] = center[j] + spread * normal(rng);
  };
  for (std::size_t i = 0; i < n; ++i) fill(&data.rows[i * dim]);
  for (std::size_t q = 0; q < queries; ++q) fill(&data.queries[q * dim]);
  return data;
}

struct Latency {
  double p50_ms = 0;
  double p99_ms = 0;
};

Latency percentiles(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double p) {
    const auto last = static_cast<double>(ms.size() - 1);
    return ms[std::min(ms.size() - 1, static_cast<std::size_t>(std::lround(p * last)))];
  };
  return {at(0.50), at(0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes{10000, 100000, 1000000};
  std::size_t dim = 512;
  std::size_t queries = 200;
  std::size_t k = 10;
  std::string data_kind = "clustered";
  focal::search::HnswParams hnsw;
  double budget_s = 900;
  bool skip_hnsw = false;
  std::filesystem::path index_dir = std::filesystem::temp_directory_path();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    auto number = [&] { return static_cast<std::size_t>(std::stoull(argv[++i])); };
    if (arg == "--sizes" && has_value) {
      sizes.clear();
      std::stringstream list(argv[++i]);
      for (std::string item; std::getline(list, item, ',');) sizes.push_back(std::stoull(item));
    } else if (arg == "--dim" && has_value) {
      dim = number();
    } else if (arg == "--queries" && has_value) {
      queries = number();
    } else if (arg == "-k" && has_value) {
      k = number();
    } else if (arg == "--data" && has_value) {
      data_kind = argv[++i];
    } else if (arg == "--m" && has_value) {
      hnsw.m = number();
    } else if (arg == "--ef-construction" && has_value) {
      hnsw.ef_construction = number();
    } else if (arg == "--ef-search" && has_value) {
      hnsw.ef_search = number();
    } else if (arg == "--hnsw-budget-s" && has_value) {
      budget_s = std::stod(argv[++i]);
    } else if (arg == "--index-dir" && has_value) {
      index_dir = argv[++i];
    } else if (arg == "--skip-hnsw") {
      skip_hnsw = true;
    } else {
      std::fprintf(
          stderr,
          "usage: search_bench [--sizes N,N,...] [--dim D] [--queries Q] [-k K] [--data clustered|random]\n"
          "                    [--m M] [--ef-construction E] [--ef-search E] [--hnsw-budget-s S] "
          "[--skip-hnsw]\n"
          "                    [--index-dir DIR]\n");
      return 2;
    }
  }
  if (queries == 0 || k == 0 || dim == 0 || (data_kind != "clustered" && data_kind != "random")) {
    std::fprintf(stderr, "search_bench: invalid arguments\n");
    return 2;
  }

  std::printf("dim=%zu k=%zu queries=%zu data=%s hnsw: M=%zu ef_construction=%zu ef_search=%zu threads=%u\n",
              dim, k, queries, data_kind.c_str(), hnsw.m, hnsw.ef_construction, hnsw.ef_search,
              std::thread::hardware_concurrency());
  std::printf("%-9s %-6s %10s %10s %10s %10s %9s\n", "size", "index", "build_s", "p50_ms", "p99_ms",
              "recall@k", "rss_MiB");
  for (const std::size_t n : sizes) {
    Data data = make_data(n, dim, queries, data_kind == "clustered", 7);
    std::vector<VectorId> ids(n);
    for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<VectorId>(i + 1);
    auto query_at = [&](std::size_t q) { return std::span<const float>(&data.queries[q * dim], dim); };

    auto exact = focal::search::make_exact_index(dim);
    auto start = Clock::now();
    if (auto ok = exact->upsert_many(ids, data.rows); !ok) {
      std::fprintf(stderr, "exact build: %s\n", ok.error().message.c_str());
      return 1;
    }
    const double exact_build = seconds_since(start);
    std::vector<std::set<VectorId>> truth(queries);
    std::vector<double> exact_ms;
    for (std::size_t q = 0; q < queries; ++q) {
      start = Clock::now();
      auto result = exact->search(query_at(q), k);
      exact_ms.push_back(seconds_since(start) * 1000);
      for (const auto& neighbor : *result) truth[q].insert(neighbor.id);
    }
    const Latency exact_latency = percentiles(exact_ms);
    std::printf("%-9zu %-6s %10.2f %10.3f %10.3f %10s %9ld\n", n, "exact", exact_build, exact_latency.p50_ms,
                exact_latency.p99_ms, "1.000", rss_mib());
    std::fflush(stdout);
    if (skip_hnsw) continue;

    auto graph = focal::search::make_hnsw_index(dim, hnsw, n);
    start = Clock::now();
    std::size_t built = 0;
    const std::size_t chunk = std::max<std::size_t>(10000, n / 20);
    while (built < n && seconds_since(start) < budget_s) {
      const std::size_t count = std::min(chunk, n - built);
      if (auto ok = graph->upsert_many(std::span<const VectorId>(&ids[built], count),
                                       std::span<const float>(&data.rows[built * dim], count * dim));
          !ok) {
        std::fprintf(stderr, "hnsw build: %s\n", ok.error().message.c_str());
        return 1;
      }
      built += count;
    }
    const double graph_build = seconds_since(start);
    if (built < n) {
      std::printf("%-9zu %-6s stopped after %.0f s at %zu vectors (%.0f vectors/s; full build ~%.0f s)\n", n,
                  "hnsw", graph_build, built, static_cast<double>(built) / graph_build,
                  static_cast<double>(n) * graph_build / static_cast<double>(built));
      continue;
    }
    std::vector<double> graph_ms;
    std::size_t hits = 0;
    std::vector<std::vector<Neighbor>> built_results;
    for (std::size_t q = 0; q < queries; ++q) {
      start = Clock::now();
      auto result = graph->search(query_at(q), k);
      graph_ms.push_back(seconds_since(start) * 1000);
      for (const auto& neighbor : *result) hits += truth[q].count(neighbor.id);
      built_results.push_back(*result);
    }
    const Latency graph_latency = percentiles(graph_ms);
    std::printf("%-9zu %-6s %10.2f %10.3f %10.3f %10.3f %9ld\n", n, "hnsw", graph_build, graph_latency.p50_ms,
                graph_latency.p99_ms, static_cast<double>(hits) / static_cast<double>(queries * k),
                rss_mib());
    std::fflush(stdout);

    // Persistence: save, free, load, compare.
    const std::filesystem::path file =
        index_dir / ("search_bench-" + std::to_string(::getpid()) + "-" + std::to_string(n) + ".hnsw");
    start = Clock::now();
    if (auto ok = focal::search::save_index(*graph, file, {"bench", std::string(16, 'f')}); !ok) {
      std::fprintf(stderr, "save: %s\n", ok.error().message.c_str());
      return 1;
    }
    const double save_s = seconds_since(start);
    const auto file_bytes = std::filesystem::file_size(file);
    graph.reset();
    exact.reset();
    const long rss_before_load = rss_mib();
    focal::search::IndexOptions load_options;
    load_options.dimension = dim;
    load_options.hnsw = hnsw;
    start = Clock::now();
    auto loaded = focal::search::load_index(file, load_options);
    const double load_s = seconds_since(start);
    const long rss_after_load = rss_mib();
    std::filesystem::remove(file);
    if (!loaded) {
      std::fprintf(stderr, "load: %s\n", loaded.error().message.c_str());
      return 1;
    }
    std::size_t same = 0;
    for (std::size_t q = 0; q < queries; ++q)
      same += *loaded->index->search(query_at(q), k) == built_results[q] ? 1 : 0;
    const double per_million = 1e6 / static_cast<double>(n);
    std::printf(
        "%-9zu %-6s save_s=%.2f load_s=%.2f file_MiB=%.1f (%.0f MiB per 1M vectors) rss_MiB before/after "
        "load=%ld/%ld (+%.0f MiB per 1M vectors) rebuild/load=%.0fx identical_results=%zu/%zu\n",
        n, "file", save_s, load_s, static_cast<double>(file_bytes) / (1 << 20),
        static_cast<double>(file_bytes) / (1 << 20) * per_million, rss_before_load, rss_after_load,
        static_cast<double>(rss_after_load - rss_before_load) * per_million, graph_build / load_s, same,
        queries);
    std::fflush(stdout);
  }
  return 0;
}
