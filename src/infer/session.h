// SPDX-License-Identifier: AGPL-3.0-or-later
// RAII wrapper around one ORT inference session: typed options, provider fallback, I/O introspection and
// validation. Run() is thread-safe (ORT sessions are), so one session serves all concurrent requests.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "infer/providers.h"
#include "infer/runtime.h"

namespace focal {

enum class GraphOptimization { kDisabled, kBasic, kExtended, kAll };

// Dynamic batching (opt-in): concurrent run() calls on one session are concatenated along the first dimension
// up to `max_batch_size` rows, waiting at most `max_queue_delay` for company. Only used when every input and
// output of the graph has a dynamic first dimension; results are split back per caller.
struct BatchingConfig {
  int max_batch_size = 0;  // <= 1: off
  std::chrono::microseconds max_queue_delay{0};
  bool enabled() const { return max_batch_size > 1; }
};

// Called after each batched Run with its row count and how many callers it served.
using BatchObserver = std::function<void(std::int64_t rows, std::size_t callers)>;

// Wall time this thread has spent in InferenceSession::run (including waiting for a batch), so that callers
// can split their own time into pre/post-processing and inference without threading timers through every
// model class.
std::chrono::nanoseconds inference_time_on_this_thread();

struct SessionConfig {
  std::vector<ExecutionProvider> providers{ExecutionProvider::kCpu};  // from select_providers()
  DeviceSettings device;
  int inter_op_threads = 0;  // 0: Immich's automatic rule (resolve_threads)
  int intra_op_threads = 0;
  GraphOptimization graph_optimization = GraphOptimization::kAll;  // ORT's default, as Immich leaves it
  bool cpu_mem_arena = true;                                       // MACHINE_LEARNING_MODEL_ARENA
  // Per-session thread pools only (with the runtime's shared pools, SharedThreadPools decides).
  bool allow_spinning = false;
  // ORT plans one memory block per input shape and keeps the plans; off, graphs with dynamic shapes (batch
  // of faces, OCR line widths) do not pile up a block per shape seen.
  bool memory_pattern = true;
  bool shrink_arena = false;  // return the arena's free chunks to the allocator after every Run
  BatchingConfig batching;
  BatchObserver on_batch;  // optional
};

enum class ElementType { kFloat32, kFloat16, kInt32, kInt64, kUint8, kOther };
std::string_view to_string(ElementType type);

struct TensorSpec {
  std::string name;
  ElementType type = ElementType::kOther;
  std::vector<std::int64_t> shape;     // -1 for a dynamic dimension
  std::vector<std::string> dim_names;  // symbolic names ("batch", "None"), empty when fixed
};

// What a model kind needs from a graph. An empty name accepts any name; -1 in `shape` accepts any size.
struct TensorRequirement {
  std::string name;
  ElementType type = ElementType::kFloat32;
  std::vector<std::int64_t> shape;
};

namespace detail {
class Batcher;
}

class InferenceSession {
 public:
  ~InferenceSession();
  // Loads `model_file`. Providers that fail to initialise are dropped with a warning (CPU remains).
  static Expected<std::unique_ptr<InferenceSession>> load(OrtRuntime& runtime,
                                                          const std::filesystem::path& model_file,
                                                          const SessionConfig& config);

  const std::vector<TensorSpec>& inputs() const { return inputs_; }
  const std::vector<TensorSpec>& outputs() const { return outputs_; }
  const std::vector<ExecutionProvider>& providers() const { return providers_; }
  const std::filesystem::path& model_file() const { return model_file_; }
  // A custom metadata entry of the model (e.g. a recognizer's character list), absent when not set.
  std::optional<std::string> custom_metadata(const std::string& key) const;

  // Checks the graph's inputs/outputs against a model kind's requirements, with a message naming the
  // mismatch.
  Status validate(std::span<const TensorRequirement> inputs,
                  std::span<const TensorRequirement> outputs) const;

  // Runs with inputs in graph order; returns all outputs in graph order. With batching on, the call may be
  // merged with concurrent calls; the outputs are the same either way.
  Expected<std::vector<Ort::Value>> run(std::span<const Ort::Value> inputs) const;
  // Always a Run of its own (the batcher uses it).
  Expected<std::vector<Ort::Value>> run_direct(std::span<const Ort::Value> inputs) const;
  bool batching() const { return batcher_ != nullptr; }

 private:
  InferenceSession() = default;
  std::filesystem::path model_file_;
  std::unique_ptr<Ort::Session> session_;
  std::vector<TensorSpec> inputs_;
  std::vector<TensorSpec> outputs_;
  std::vector<std::string> input_names_;
  std::vector<std::string> output_names_;
  std::vector<const char*> input_name_ptrs_;
  std::vector<const char*> output_name_ptrs_;
  std::vector<ExecutionProvider> providers_;
  Ort::RunOptions run_options_;
  std::unique_ptr<detail::Batcher> batcher_;
};

}  // namespace focal
