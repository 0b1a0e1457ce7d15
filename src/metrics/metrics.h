// SPDX-License-Identifier: AGPL-3.0-or-later
// Prometheus metrics with the text exposition format (version 0.0.4). Recording is lock-free (atomics); a
// label set's series is created once under a lock and then found under a shared lock, and rendering takes
// the same shared lock, so /metrics never blocks request threads for long.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

namespace focal {

class Counter {
 public:
  void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void set(std::int64_t n) { value_.store(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Cumulative counts per bound, then the +Inf count (== count()).
  std::vector<std::uint64_t> cumulative_counts() const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // one per bound plus +Inf, not cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Bucket bounds in seconds from 0.5 ms to 60 s, for request stages.
std::vector<double> latency_buckets();

using Labels = std::vector<std::string>;  // values, in the family's label-name order

template <class Metric>
class Family;

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Families live as long as the registry; the references stay valid.
  Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                               std::vector<double> upper_bounds);

  // Appends complete families (HELP, TYPE, samples) computed at scrape time, e.g. loaded models or RSS.
  void add_collector(std::function<void(std::string& out)> collector);

  std::string render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Escaping and sample formatting shared with collectors.
std::string escape_label_value(const std::string& value);
std::string format_labels(const std::vector<std::string>& names, const Labels& values,
                          const std::string& extra_name = {}, const std::string& extra_value = {});
std::string format_value(double value);

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::string type, std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(std::move(type)),
        label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;
  virtual void render(std::string& out) const = 0;

 protected:
  void header(std::string& out) const;
  std::string name_;
  std::string help_;
  std::string type_;
  std::vector<std::string> label_names_;
};

template <class Metric>
class Family : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<Metric>()>;
  Family(std::string name, std::string help, std::string type, std::vector<std::string> label_names,
         Factory factory)
      : FamilyBase(std::move(name), std::move(help), std::move(type), std::move(label_names)),
        factory_(std::move(factory)) {}

  // The series for `labels` (as many values as label names), created on first use.
  Metric& with(const Labels& labels) {
    {
      const std::shared_lock lock(mutex_);
      const auto it = series_.find(labels);
      if (it != series_.end()) return *it->second;
    }
    const std::unique_lock lock(mutex_);
    auto& slot = series_[labels];
    if (!slot) slot = factory_();
    return *slot;
  }

  void render(std::string& out) const override;

 private:
  Factory factory_;
  mutable std::shared_mutex mutex_;
  std::map<Labels, std::unique_ptr<Metric>> series_;
};

}  // namespace focal
