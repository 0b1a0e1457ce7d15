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
//
// --pgvector CONNINFO adds FOCAL_VECTOR_INDEX=pgvector's path on that PostgreSQL database (pgvector 0.8 or
// later): the embeddings are stored as smart search stores them, then given their vectors the way a server's
// first start does (HNSW index created first, rows inserted into it), then the same queries run through the
// same VectorIndex, plus one filtered case (9 in 10 rows rejected after the walk) against the exact filtered
// result. Reports the table and index sizes on the server. The database must hold no focal library: the
// benchmark replaces its smart_search tables.
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

#include "search/pgvector_index.h"
#include "search/vector_index.h"
#include "store/database.h"
#include "store/query.h"

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

// Creates the benchmark's smart_search table in `db` (refusing a focal library) and stores `n` embeddings.
focal::Status store_embeddings(focal::store::Database& db, const Data& data, std::size_t n, std::size_t dim) {
  using focal::store::Connection;
  focal::Status fresh = db.write([&](Connection& c) -> focal::Status {
    auto library =
        focal::store::query_one<std::string>(c, "SELECT tablename FROM pg_tables WHERE tablename = 'asset'");
    if (!library) return library.error();
    if (*library)
      return focal::bad_request("the database holds a focal library; give the benchmark an empty one");
    return c.exec(
        "DROP TABLE IF EXISTS smart_search_vector; DROP TABLE IF EXISTS smart_search; "
        "CREATE TABLE smart_search (asset_id BIGINT PRIMARY KEY, model TEXT NOT NULL, dim INTEGER NOT NULL, "
        "embedding BYTEA NOT NULL, version BIGINT NOT NULL)");
  });
  if (!fresh) return fresh;
  constexpr std::size_t kRows = 500;
  for (std::size_t begin = 0; begin < n; begin += kRows) {
    const std::size_t count = std::min(kRows, n - begin);
    focal::Status written = db.write([&](Connection& c) -> focal::Status {
      auto insert = c.prepare("INSERT INTO smart_search (asset_id, model, dim, embedding, version) VALUES " +
                              focal::store::repeated_rows("(?, 'bench', ?, ?, 1)", count));
      if (!insert) return insert.error();
      for (std::size_t i = 0; i < count; ++i) {
        const std::size_t row = begin + i;
        insert->bind(static_cast<int>(3 * i + 1), static_cast<std::int64_t>(row + 1));
        insert->bind(static_cast<int>(3 * i + 2), static_cast<std::int64_t>(dim));
        insert->bind_floats(static_cast<int>(3 * i + 3), std::span<const float>(&data.rows[row * dim], dim));
      }
      return insert->run();
    });
    if (!written) return written;
  }
  return {};
}

// FOCAL_VECTOR_INDEX=pgvector on `conninfo`: build, latency, recall (plain and filtered), server-side sizes.
int run_pgvector(const std::string& conninfo, const Data& data, std::size_t n, std::size_t dim, std::size_t k,
                 const focal::search::HnswParams& hnsw, const std::vector<std::set<VectorId>>& truth,
                 focal::search::VectorIndex& exact) {
  using focal::search::kSmartSearchVectors;
  auto db = focal::store::Database::open({.path = {}, .reader_connections = 1, .postgres_url = conninfo});
  if (!db) {
    std::fprintf(stderr, "pgvector: %s\n", db.error().message.c_str());
    return 1;
  }
  auto start = Clock::now();
  if (auto ok = store_embeddings(**db, data, n, dim); !ok) {
    std::fprintf(stderr, "pgvector: storing embeddings: %s\n", ok.error().message.c_str());
    return 1;
  }
  const double store_s = seconds_since(start);
  start = Clock::now();
  auto index = focal::search::make_pgvector_index(**db, kSmartSearchVectors, "bench", dim, hnsw);
  if (auto ok = focal::search::prepare_pgvector(**db, kSmartSearchVectors); !ok) {
    std::fprintf(stderr, "pgvector: %s\n", ok.error().message.c_str());
    return 1;
  }
  auto stored = focal::search::backfill_pgvector(**db, kSmartSearchVectors, *index, "bench");
  if (!stored || *stored != n) {
    std::fprintf(stderr, "pgvector: backfill: %s\n", stored ? "short" : stored.error().message.c_str());
    return 1;
  }
  const double backfill_s = seconds_since(start);
  if (auto ok = focal::search::index_pgvector(**db, kSmartSearchVectors, dim, hnsw); !ok) {
    std::fprintf(stderr, "pgvector: %s\n", ok.error().message.c_str());
    return 1;
  }
  const double build_s = seconds_since(start);
  (void)(*db)->write([](focal::store::Connection& c) { return c.exec("ANALYZE smart_search_vector"); });

  focal::search::SearchFilter every_tenth;
  every_tenth.accept = [](VectorId id) { return id % 10 == 0; };
  const std::size_t queries = truth.size();
  for (const bool filtered : {false, true}) {
    std::vector<double> ms;
    std::size_t hits = 0;
    for (std::size_t q = 0; q < queries; ++q) {
      const std::span<const float> query(&data.queries[q * dim], dim);
      const focal::search::SearchFilter& filter = filtered ? every_tenth : focal::search::SearchFilter{};
      start = Clock::now();
      auto result = index->search(query, k, filter);
      ms.push_back(seconds_since(start) * 1000);
      if (!result) {
        std::fprintf(stderr, "pgvector: search: %s\n", result.error().message.c_str());
        return 1;
      }
      std::set<VectorId> wanted = truth[q];
      if (filtered) {
        wanted.clear();
        auto exact_filtered = exact.search(query, k, filter);
        if (!exact_filtered) return 1;
        for (const auto& neighbor : *exact_filtered) wanted.insert(neighbor.id);
      }
      for (const auto& neighbor : *result) hits += wanted.count(neighbor.id);
    }
    const Latency latency = percentiles(ms);
    std::printf("%-9zu %-6s %10.2f %10.3f %10.3f %10.3f %9ld%s\n", n, filtered ? "pgv-f" : "pgv", build_s,
                latency.p50_ms, latency.p99_ms, static_cast<double>(hits) / static_cast<double>(queries * k),
                rss_mib(), filtered ? "  (1 in 10 rows accepted)" : "");
  }
  auto sizes = (*db)->read([&](focal::store::Connection& c) {
    return focal::store::query_one<std::int64_t, std::int64_t>(
        c, "SELECT pg_total_relation_size('smart_search_vector') - pg_relation_size('" +
               std::string("smart_search_vector_hnsw_") + std::to_string(dim) +
               "'), pg_relation_size('smart_search_vector_hnsw_" + std::to_string(dim) + "')");
  });
  if (sizes && *sizes) {
    const auto [table, graph] = **sizes;
    std::printf(
        "%-9zu %-6s store_s=%.2f vectors_s=%.2f index_s=%.2f vector table %.0f MiB, HNSW index %.0f MiB "
        "(%.0f MiB per 1M vectors), "
        "on the server\n",
        n, "pgv", store_s, backfill_s, build_s - backfill_s, static_cast<double>(table) / (1 << 20),
        static_cast<double>(graph) / (1 << 20),
        static_cast<double>(table + graph) / (1 << 20) * 1e6 / static_cast<double>(n));
  }
  std::fflush(stdout);
  return 0;
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
  std::string pgvector;
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
    } else if (arg == "--pgvector" && has_value) {
      pgvector = argv[++i];
    } else if (arg == "--skip-hnsw") {
      skip_hnsw = true;
    } else {
      std::fprintf(
          stderr,
          "usage: search_bench [--sizes N,N,...] [--dim D] [--queries Q] [-k K] [--data clustered|random]\n"
          "                    [--m M] [--ef-construction E] [--ef-search E] [--hnsw-budget-s S] "
          "[--skip-hnsw]\n"
          "                    [--index-dir DIR] [--pgvector CONNINFO]\n");
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
    if (!pgvector.empty())
      if (int failed = run_pgvector(pgvector, data, n, dim, k, hnsw, truth, *exact); failed != 0)
        return failed;
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
