// RAII wrapper around one ORT inference session: typed options, provider fallback, I/O introspection and
// validation. Run() is thread-safe (ORT sessions are), so one session serves all concurrent requests.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "infer/providers.h"
#include "infer/runtime.h"

namespace focal {

enum class GraphOptimization { kDisabled, kBasic, kExtended, kAll };

struct SessionConfig {
  std::vector<ExecutionProvider> providers{ExecutionProvider::kCpu};  // from select_providers()
  DeviceSettings device;
  int inter_op_threads = 0;  // 0: Immich's automatic rule (resolve_threads)
  int intra_op_threads = 0;
  GraphOptimization graph_optimization = GraphOptimization::kAll;  // ORT's default, as Immich leaves it
  bool cpu_mem_arena = true;                                       // MACHINE_LEARNING_MODEL_ARENA
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

class InferenceSession {
 public:
  // Loads `model_file`. Providers that fail to initialise are dropped with a warning (CPU remains).
  static Expected<std::unique_ptr<InferenceSession>> load(OrtRuntime& runtime,
                                                          const std::filesystem::path& model_file,
                                                          const SessionConfig& config);

  const std::vector<TensorSpec>& inputs() const { return inputs_; }
  const std::vector<TensorSpec>& outputs() const { return outputs_; }
  const std::vector<ExecutionProvider>& providers() const { return providers_; }
  const std::filesystem::path& model_file() const { return model_file_; }

  // Checks the graph's inputs/outputs against a model kind's requirements, with a message naming the
  // mismatch.
  Status validate(std::span<const TensorRequirement> inputs,
                  std::span<const TensorRequirement> outputs) const;

  // Runs with inputs in graph order; returns all outputs in graph order.
  Expected<std::vector<Ort::Value>> run(std::span<const Ort::Value> inputs) const;

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
};

}  // namespace focal
