// SPDX-License-Identifier: AGPL-3.0-or-later
// Closed-loop /predict load driver: N client threads, each with its own keep-alive connection, send multipart
// requests back to back (next request as soon as the previous answer arrives) and record every latency.
// Prints one JSON object: requests, errors, seconds, throughput (requests/s), latency mean/p50/p90/p99 (ms).
//
//   predict_load --port P --task clip.visual|clip.textual|faces --inputs DIR_OR_FILE
//                [--host H] [--concurrency N] [--requests N | --seconds S] [--warmup N] [--model NAME]
//
// Inputs: a folder of images (clip.visual, faces; sent in name order, round robin) or a text file with one
// query per line (clip.textual). Works against any server that speaks Immich's /predict (focal-ml, Immich,
// tools/reference_server.py).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string entries_for(const std::string& task, const std::string& model) {
  if (task == "clip.visual") return nlohmann::json{{"clip", {{"visual", {{"modelName", model}}}}}}.dump();
  if (task == "clip.textual") return nlohmann::json{{"clip", {{"textual", {{"modelName", model}}}}}}.dump();
  return nlohmann::json{{"facial-recognition",
                         {{"detection", {{"modelName", model}, {"options", {{"minScore", 0.7}}}}},
                          {"recognition", {{"modelName", model}}}}}}
      .dump();
}

std::vector<std::string> load_inputs(const std::filesystem::path& path, bool text) {
  std::vector<std::string> out;
  if (text) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) out.push_back(line);
    }
    return out;
  }
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(path)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::string data(std::filesystem::file_size(f), '\0');
    std::ifstream in(f, std::ios::binary);
    in.read(data.data(), static_cast<std::streamsize>(data.size()));
    out.push_back(std::move(data));
  }
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = p / 100.0 * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(rank);
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Closed-loop /predict load driver"};
  std::string host = "127.0.0.1";
  int port = 3003;
  std::string task = "clip.visual";
  std::string model;
  std::string inputs_path;
  int concurrency = 1;
  int total_requests = 0;
  double seconds = 10;
  int warmup = 2;
  app.add_option("--host", host);
  app.add_option("--port", port)->required();
  app.add_option("--task", task)->check(CLI::IsMember({"clip.visual", "clip.textual", "faces"}));
  app.add_option("--model", model, "default: ViT-B-32__openai (CLIP), buffalo_l (faces)");
  app.add_option("--inputs", inputs_path)->required();
  app.add_option("--concurrency", concurrency)->check(CLI::Range(1, 1024));
  app.add_option("--requests", total_requests,
                 "stop after this many measured requests (overrides --seconds)");
  app.add_option("--seconds", seconds, "measure for this long");
  app.add_option("--warmup", warmup, "requests per connection before measuring");
  CLI11_PARSE(app, argc, argv);
  if (model.empty()) model = task == "faces" ? "buffalo_l" : "ViT-B-32__openai";

  const bool text = task == "clip.textual";
  const auto inputs = load_inputs(inputs_path, text);
  if (inputs.empty()) {
    std::cerr << "no inputs in " << inputs_path << "\n";
    return 2;
  }
  const auto entries = entries_for(task, model);

  std::atomic<int> next_input{0};
  std::atomic<int> started{0};
  std::atomic<int> errors{0};
  std::atomic<bool> measuring{false};
  std::mutex mutex;
  std::vector<double> latencies_ms;
  std::string first_error;

  const std::string url = "http://" + host + ":" + std::to_string(port) + "/predict";
  // One client (so one kept-alive connection, TCP_NODELAY as Node's client) per thread.
  auto send = [&](focal::http::Client& client, int index) -> bool {
    focal::http::ClientRequest request;
    request.url = url;
    request.timeout = std::chrono::seconds(300);
    request.form.push_back({"entries", entries, "", ""});
    const auto& input = inputs[static_cast<std::size_t>(index) % inputs.size()];
    if (text) {
      request.form.push_back({"text", input, "", ""});
    } else {
      request.form.push_back({"image", input, "image.jpg", "image/jpeg"});
    }
    std::string body;
    const auto res = client.perform(request, body, std::size_t{64} << 20);
    if (!res.transport_ok || res.status != 200) {
      const std::lock_guard lock(mutex);
      if (first_error.empty()) {
        first_error = res.transport_ok ? std::to_string(res.status) + " " + body.substr(0, 300)
                                       : "transport error " + res.error;
      }
      return false;
    }
    return true;
  };

  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  Clock::time_point start{};
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      focal::http::Client client;
      for (int i = 0; i < warmup; ++i) send(client, next_input++);
      ++ready;
      while (!measuring.load()) std::this_thread::yield();
      std::vector<double> mine;
      while (true) {
        if (total_requests > 0) {
          if (started++ >= total_requests) break;
        } else if (std::chrono::duration<double>(Clock::now() - start).count() >= seconds) {
          break;
        }
        const auto t0 = Clock::now();
        const bool ok = send(client, next_input++);
        const auto ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (ok) {
          mine.push_back(ms);
        } else {
          ++errors;
        }
      }
      const std::lock_guard lock(mutex);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    });
  }
  while (ready.load() < concurrency) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  start = Clock::now();
  measuring = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  double mean = 0;
  for (const double v : latencies_ms) mean += v;
  if (!latencies_ms.empty()) mean /= static_cast<double>(latencies_ms.size());
  nlohmann::json out{{"task", task},
                     {"model", model},
                     {"concurrency", concurrency},
                     {"requests", latencies_ms.size()},
                     {"errors", errors.load()},
                     {"seconds", elapsed},
                     {"throughput_rps", static_cast<double>(latencies_ms.size()) / elapsed},
                     {"mean_ms", mean},
                     {"p50_ms", percentile(latencies_ms, 50)},
                     {"p90_ms", percentile(latencies_ms, 90)},
                     {"p99_ms", percentile(latencies_ms, 99)}};
  if (!first_error.empty()) out["first_error"] = first_error;
  std::cout << out.dump() << "\n";
  return errors.load() == 0 && !latencies_ms.empty() ? 0 : 1;
}
