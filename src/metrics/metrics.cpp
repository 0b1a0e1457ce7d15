// SPDX-License-Identifier: AGPL-3.0-or-later
#include "metrics/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <mutex>

namespace focal {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(double value) {
  const auto index = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                              bounds_.begin());  // le semantics: value <= bound
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_labels(const std::vector<std::string>& names, const Labels& values,
                          const std::string& extra_name, const std::string& extra_value) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i != 0) out += ",";
    out += names[i] + "=\"" + escape_label_value(i < values.size() ? values[i] : std::string()) + "\"";
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ",";
    out += extra_name + "=\"" + escape_label_value(extra_value) + "\"";
  }
  return out + "}";
}

std::string format_value(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    return fmt::format("{}", static_cast<long long>(value));
  return fmt::format("{}", value);
}

void FamilyBase::header(std::string& out) const {
  out += "# HELP " + name_ + " " + help_ + "\n";
  out += "# TYPE " + name_ + " " + type_ + "\n";
}

template <>
void Family<Counter>::render(std::string& out) const {
  header(out);
  const std::shared_lock lock(mutex_);
  for (const auto& [labels, metric] : series_) {
    out += name_ + format_labels(label_names_, labels) + " " + std::to_string(metric->value()) + "\n";
  }
}

template <>
void Family<Gauge>::render(std::string& out) const {
  header(out);
  const std::shared_lock lock(mutex_);
  for (const auto& [labels, metric] : series_) {
    out += name_ + format_labels(label_names_, labels) + " " + std::to_string(metric->value()) + "\n";
  }
}

template <>
void Family<Histogram>::render(std::string& out) const {
  header(out);
  const std::shared_lock lock(mutex_);
  for (const auto& [labels, metric] : series_) {
    const auto counts = metric->cumulative_counts();
    const auto& bounds = metric->upper_bounds();
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      out += name_ + "_bucket" + format_labels(label_names_, labels, "le", format_value(bounds[i])) + " " +
             std::to_string(counts[i]) + "\n";
    }
    // Read +Inf, count and sum after the buckets; concurrent observations may make count exceed a bucket
    // total read earlier, which Prometheus tolerates (counts stay monotonic).
    out += name_ + "_bucket" + format_labels(label_names_, labels, "le", "+Inf") + " " +
           std::to_string(counts.back()) + "\n";
    out += name_ + "_sum" + format_labels(label_names_, labels) + " " + format_value(metric->sum()) + "\n";
    out +=
        name_ + "_count" + format_labels(label_names_, labels) + " " + std::to_string(counts.back()) + "\n";
  }
}

struct MetricsRegistry::Impl {
  mutable std::mutex mutex;  // guards the lists; families guard their own series
  std::vector<std::unique_ptr<FamilyBase>> families;
  std::vector<std::function<void(std::string&)>> collectors;
};

MetricsRegistry::MetricsRegistry() : impl_(std::make_unique<Impl>()) {}
MetricsRegistry::~MetricsRegistry() = default;

Family<Counter>& MetricsRegistry::counter(std::string name, std::string help,
                                          std::vector<std::string> label_names) {
  auto family =
      std::make_unique<Family<Counter>>(std::move(name), std::move(help), "counter", std::move(label_names),
                                        [] { return std::make_unique<Counter>(); });
  auto& ref = *family;
  const std::lock_guard lock(impl_->mutex);
  impl_->families.push_back(std::move(family));
  return ref;
}

Family<Gauge>& MetricsRegistry::gauge(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  auto family =
      std::make_unique<Family<Gauge>>(std::move(name), std::move(help), "gauge", std::move(label_names),
                                      [] { return std::make_unique<Gauge>(); });
  auto& ref = *family;
  const std::lock_guard lock(impl_->mutex);
  impl_->families.push_back(std::move(family));
  return ref;
}

Family<Histogram>& MetricsRegistry::histogram(std::string name, std::string help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> upper_bounds) {
  auto family = std::make_unique<Family<Histogram>>(
      std::move(name), std::move(help), "histogram", std::move(label_names),
      [bounds = std::move(upper_bounds)] { return std::make_unique<Histogram>(bounds); });
  auto& ref = *family;
  const std::lock_guard lock(impl_->mutex);
  impl_->families.push_back(std::move(family));
  return ref;
}

void MetricsRegistry::add_collector(std::function<void(std::string& out)> collector) {
  const std::lock_guard lock(impl_->mutex);
  impl_->collectors.push_back(std::move(collector));
}

std::string MetricsRegistry::render() const {
  std::string out;
  const std::lock_guard lock(impl_->mutex);
  for (const auto& family : impl_->families) family->render(out);
  for (const auto& collector : impl_->collectors) collector(out);
  return out;
}

}  // namespace focal
