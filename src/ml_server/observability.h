// SPDX-License-Identifier: AGPL-3.0-or-later
// focal-ml's /metrics content: request counts and stage latencies, model lifecycle, batching and process
// memory, on top of the generic Prometheus primitives in metrics/metrics.h.
#pragma once

#include <memory>

#include "infer/session.h"
#include "metrics/metrics.h"
#include "ml_server/predict.h"
#include "models/model_registry.h"

namespace focal {

class ServiceMetrics : public PredictObserver {
 public:
  explicit ServiceMetrics(MetricsRegistry& registry);

  void on_decode(double seconds) override;
  void on_entry(const Entry& entry, double preprocess_s, double inference_s, const Error* error) override;
  // A whole /predict, from its body being read to the reply (every status).
  void on_request(double seconds);
  void on_http_response(const std::string& path, int status);

  Gauge& in_flight() { return in_flight_; }      // /predict requests being processed
  Gauge& queue_depth() { return queue_depth_; }  // of those, waiting for a compute slot (REQUEST_THREADS)

  // Batch-size observer for one model (ModelContext::batch_observer).
  BatchObserver batch_observer(const ModelKey& key);

  // Loaded models, load/unload events (from the registry's counters) and process memory, computed per scrape.
  void watch(std::shared_ptr<const ModelRegistry> models);

  // The exposition text of everything in the registry.
  std::string render() const { return registry_.render(); }

 private:
  MetricsRegistry& registry_;
  Family<Counter>& entries_;
  Family<Counter>& entry_errors_;
  Family<Histogram>& stages_;
  Family<Counter>& http_;
  Family<Histogram>& batch_rows_;
  Family<Counter>& batched_calls_;
  Gauge& in_flight_;
  Gauge& queue_depth_;
};

}  // namespace focal
