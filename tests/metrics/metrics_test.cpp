// SPDX-License-Identifier: AGPL-3.0-or-later
#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace focal {
namespace {

TEST(Metrics, CountersAndGaugesRenderWithEscapedLabels) {
  MetricsRegistry registry;
  auto& requests = registry.counter("x_requests_total", "Requests", {"model", "status"});
  requests.with({"ViT-B-32__openai", "200"}).add();
  requests.with({"ViT-B-32__openai", "200"}).add(2);
  requests.with({"we\"ird\\name\n", "500"}).add();
  registry.gauge("x_in_flight", "In flight").with({}).set(3);
  const auto text = registry.render();
  EXPECT_NE(text.find("# HELP x_requests_total Requests\n# TYPE x_requests_total counter\n"),
            std::string::npos);
  EXPECT_NE(text.find("x_requests_total{model=\"ViT-B-32__openai\",status=\"200\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("x_requests_total{model=\"we\\\"ird\\\\name\\n\",status=\"500\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE x_in_flight gauge\nx_in_flight 3\n"), std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfCountAndSum) {
  MetricsRegistry registry;
  auto& h = registry.histogram("x_seconds", "Latency", {"stage"}, {0.1, 1}).with({"decode"});
  h.observe(0.05);
  h.observe(0.1);  // le is inclusive
  h.observe(0.5);
  h.observe(7);
  const auto text = registry.render();
  EXPECT_NE(text.find("x_seconds_bucket{stage=\"decode\",le=\"0.1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{stage=\"decode\",le=\"1\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{stage=\"decode\",le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_count{stage=\"decode\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_sum{stage=\"decode\"} 7.65\n"), std::string::npos) << text;
}

TEST(Metrics, ConcurrentRecordingLosesNothing) {
  MetricsRegistry registry;
  auto& family = registry.counter("x_total", "n", {"thread"});
  auto& h = registry.histogram("x_h", "h", {}, {1}).with({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        family.with({std::to_string(t % 2)}).add();
        h.observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(family.with({"0"}).value() + family.with({"1"}).value(), 40000U);
  EXPECT_EQ(h.count(), 40000U);
  EXPECT_DOUBLE_EQ(h.sum(), 20000.0);
}

TEST(Metrics, CollectorsAppendAtScrapeTime) {
  MetricsRegistry registry;
  int scrapes = 0;
  registry.add_collector([&](std::string& out) { out += "x_scrapes " + std::to_string(++scrapes) + "\n"; });
  EXPECT_NE(registry.render().find("x_scrapes 1\n"), std::string::npos);
  EXPECT_NE(registry.render().find("x_scrapes 2\n"), std::string::npos);
}

}  // namespace
}  // namespace focal
