// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ml_server/observability.h"

#include <map>

#include "core/memory.h"

namespace focal {
namespace {

std::string task_label(const Entry& entry) { return std::string(to_string(entry.task)); }
std::string type_label(const Entry& entry) { return std::string(to_string(entry.type)); }

}  // namespace

ServiceMetrics::ServiceMetrics(MetricsRegistry& registry)
    : registry_(registry),
      entries_(registry.counter("focal_ml_predictions_total", "Model runs (entries of /predict requests)",
                                {"task", "type", "model"})),
      entry_errors_(registry.counter("focal_ml_prediction_errors_total",
                                     "Model runs that failed, by HTTP status",
                                     {"task", "type", "model", "status"})),
      stages_(
          registry.histogram("focal_ml_stage_seconds",
                             "Time per stage: decode and total per request; preprocess (everything outside "
                             "ORT Run) and inference (ORT Run, including any batch wait) per model run",
                             {"stage", "task", "type", "model"}, latency_buckets())),
      http_(registry.counter("focal_ml_http_requests_total", "HTTP responses by path and status",
                             {"path", "status"})),
      batch_rows_(registry.histogram("focal_ml_batch_rows", "Rows per batched ORT Run (dynamic batching)",
                                     {"task", "type", "model"}, {1, 2, 4, 8, 16, 32, 64, 128, 256})),
      batched_calls_(registry.counter("focal_ml_batched_calls_total",
                                      "Callers served by batched ORT Runs (dynamic batching)",
                                      {"task", "type", "model"})),
      in_flight_(registry.gauge("focal_ml_requests_in_flight", "/predict requests being processed").with({})),
      queue_depth_(
          registry
              .gauge("focal_ml_queue_depth",
                     "/predict requests waiting for a compute slot (MACHINE_LEARNING_REQUEST_THREADS)")
              .with({})) {}

void ServiceMetrics::on_decode(double seconds) { stages_.with({"decode", "", "", ""}).observe(seconds); }

void ServiceMetrics::on_entry(const Entry& entry, double preprocess_s, double inference_s,
                              const Error* error) {
  const Labels model{task_label(entry), type_label(entry), entry.clean_name};
  entries_.with(model).add();
  if (error != nullptr) {
    entry_errors_.with({model[0], model[1], model[2], std::to_string(http_status(error->kind))}).add();
    return;
  }
  stages_.with({"preprocess", model[0], model[1], model[2]}).observe(preprocess_s);
  stages_.with({"inference", model[0], model[1], model[2]}).observe(inference_s);
}

void ServiceMetrics::on_request(double seconds) { stages_.with({"total", "", "", ""}).observe(seconds); }

void ServiceMetrics::on_http_response(const std::string& path, int status) {
  // Only known paths become label values, so probing clients cannot grow the series without bound.
  const bool known = path == "/" || path == "/ping" || path == "/predict" || path == "/metrics";
  http_.with({known ? path : "other", std::to_string(status)}).add();
}

BatchObserver ServiceMetrics::batch_observer(const ModelKey& key) {
  const Labels labels{std::string(to_string(key.task)), std::string(to_string(key.type)), key.clean_name};
  auto* rows = &batch_rows_.with(labels);
  auto* calls = &batched_calls_.with(labels);
  return [rows, calls](std::int64_t n, std::size_t callers) {
    rows->observe(static_cast<double>(n));
    calls->add(callers);
  };
}

void ServiceMetrics::watch(std::shared_ptr<const ModelRegistry> models) {
  registry_.add_collector([models](std::string& out) {
    const auto slots = models->snapshot();
    std::size_t loaded = 0;
    for (const auto& s : slots) loaded += s.loaded ? 1 : 0;
    out += "# HELP focal_ml_models_loaded Model sessions in memory (one per model and device)\n";
    out += "# TYPE focal_ml_models_loaded gauge\n";
    out += "focal_ml_models_loaded " + std::to_string(loaded) + "\n";
    out += "# HELP focal_ml_model_loaded 1 when the model is in memory on the device\n";
    out += "# TYPE focal_ml_model_loaded gauge\n";
    const std::vector<std::string> names{"task", "type", "model", "device", "pinned"};
    for (const auto& s : slots) {
      out += "focal_ml_model_loaded" +
             format_labels(names, {std::string(to_string(s.key.task)), std::string(to_string(s.key.type)),
                                   s.key.clean_name, s.device, s.pinned ? "true" : "false"}) +
             " " + (s.loaded ? "1" : "0") + "\n";
    }
    out += "# HELP focal_ml_model_outstanding Requests using or waiting for the model on the device\n";
    out += "# TYPE focal_ml_model_outstanding gauge\n";
    for (const auto& s : slots) {
      out += "focal_ml_model_outstanding" +
             format_labels({"task", "type", "model", "device"},
                           {std::string(to_string(s.key.task)), std::string(to_string(s.key.type)),
                            s.key.clean_name, s.device}) +
             " " + std::to_string(s.outstanding) + "\n";
    }
    const auto counters = models->counters();
    out += "# HELP focal_ml_model_events_total Model loads, failed loads and TTL unloads\n";
    out += "# TYPE focal_ml_model_events_total counter\n";
    out += "focal_ml_model_events_total{event=\"load\"} " + std::to_string(counters.loads) + "\n";
    out += "focal_ml_model_events_total{event=\"load_failure\"} " + std::to_string(counters.load_failures) +
           "\n";
    out += "focal_ml_model_events_total{event=\"unload\"} " + std::to_string(counters.unloads) + "\n";
    if (const auto rss = resident_memory_bytes()) {
      out += "# HELP process_resident_memory_bytes Resident memory size in bytes\n";
      out += "# TYPE process_resident_memory_bytes gauge\n";
      out += "process_resident_memory_bytes " + std::to_string(*rss) + "\n";
    }
  });
}

}  // namespace focal
