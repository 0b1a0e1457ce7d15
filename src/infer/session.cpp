// SPDX-License-Identifier: AGPL-3.0-or-later
#include "infer/session.h"

#include <onnxruntime_run_options_config_keys.h>
#include <onnxruntime_session_options_config_keys.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>

#include "infer/batcher.h"

namespace focal {
namespace {

// Per-thread accounting only (see inference_time_on_this_thread); never shared between threads.
thread_local std::chrono::nanoseconds t_inference_time{0};

class InferenceTimer {
 public:
  InferenceTimer() : start_(std::chrono::steady_clock::now()) {}
  ~InferenceTimer() { t_inference_time += std::chrono::steady_clock::now() - start_; }
  InferenceTimer(const InferenceTimer&) = delete;
  InferenceTimer& operator=(const InferenceTimer&) = delete;

 private:
  std::chrono::steady_clock::time_point start_;
};

bool first_dim_dynamic(const std::vector<TensorSpec>& specs) {
  return !specs.empty() && std::all_of(specs.begin(), specs.end(), [](const TensorSpec& t) {
    return !t.shape.empty() && t.shape[0] < 0;
  });
}

ElementType element_type(ONNXTensorElementDataType t) {
  switch (t) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT:
      return ElementType::kFloat32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16:
      return ElementType::kFloat16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32:
      return ElementType::kInt32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64:
      return ElementType::kInt64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8:
      return ElementType::kUint8;
    default:
      return ElementType::kOther;
  }
}

GraphOptimizationLevel ort_level(GraphOptimization level) {
  switch (level) {
    case GraphOptimization::kDisabled:
      return ORT_DISABLE_ALL;
    case GraphOptimization::kBasic:
      return ORT_ENABLE_BASIC;
    case GraphOptimization::kExtended:
      return ORT_ENABLE_EXTENDED;
    case GraphOptimization::kAll:
      return ORT_ENABLE_ALL;
  }
  return ORT_ENABLE_ALL;
}

TensorSpec describe(const std::string& name, const Ort::TypeInfo& info) {
  TensorSpec spec;
  spec.name = name;
  if (info.GetONNXType() != ONNX_TYPE_TENSOR) return spec;
  const auto tensor = info.GetTensorTypeAndShapeInfo();
  spec.type = element_type(tensor.GetElementType());
  spec.shape = tensor.GetShape();
  std::vector<const char*> symbolic(spec.shape.size(), nullptr);
  tensor.GetSymbolicDimensions(symbolic.data(), symbolic.size());
  for (const char* dim : symbolic) spec.dim_names.emplace_back(dim != nullptr ? dim : "");
  return spec;
}

// Appends one non-CPU provider; throws Ort::Exception when this runtime cannot enable it.
void append_provider(Ort::SessionOptions& options, ExecutionProvider provider,
                     const ProviderOptions& values) {
  switch (provider) {
    case ExecutionProvider::kCuda: {
      const auto& api = Ort::GetApi();
      OrtCUDAProviderOptionsV2* cuda = nullptr;
      Ort::ThrowOnError(api.CreateCUDAProviderOptions(&cuda));
      std::unique_ptr<OrtCUDAProviderOptionsV2, void (*)(OrtCUDAProviderOptionsV2*)> guard(
          cuda, api.ReleaseCUDAProviderOptions);
      std::vector<const char*> keys;
      std::vector<const char*> vals;
      for (const auto& [k, v] : values) {
        keys.push_back(k.c_str());
        vals.push_back(v.c_str());
      }
      Ort::ThrowOnError(api.UpdateCUDAProviderOptions(cuda, keys.data(), vals.data(), keys.size()));
      options.AppendExecutionProvider_CUDA_V2(*cuda);
      return;
    }
    case ExecutionProvider::kMigraphx: {
      // ORT 1.21's MIGraphX options are a struct; the compiled-model cache lives in <model dir>/migraphx.
      const std::filesystem::path cache_dir = values.at("migraphx_model_cache_dir");
      std::error_code ec;
      std::filesystem::create_directories(cache_dir, ec);
      const std::string compiled = (cache_dir / "model.mxr").string();  // must outlive the Append call
      OrtMIGraphXProviderOptions mx{};
      mx.device_id = std::stoi(values.at("device_id"));
      mx.migraphx_fp16_enable = values.at("migraphx_fp16_enable") == "1" ? 1 : 0;
      mx.migraphx_save_compiled_model = 1;
      mx.migraphx_save_model_path = compiled.c_str();
      mx.migraphx_load_compiled_model = std::filesystem::exists(compiled, ec) ? 1 : 0;
      mx.migraphx_load_model_path = compiled.c_str();
      options.AppendExecutionProvider_MIGraphX(mx);
      return;
    }
    case ExecutionProvider::kOpenVino:
      options.AppendExecutionProvider_OpenVINO_V2({values.begin(), values.end()});
      return;
    case ExecutionProvider::kCoreMl:
      options.AppendExecutionProvider("CoreML", {values.begin(), values.end()});
      return;
    case ExecutionProvider::kCpu:
      return;  // always present as ORT's implicit fallback
  }
}

struct BuiltOptions {
  Ort::SessionOptions options;
  std::vector<ExecutionProvider> providers;
};

BuiltOptions build_options(const OrtRuntime& runtime, const SessionConfig& config,
                           const std::vector<ExecutionProvider>& wanted,
                           const std::filesystem::path& model_dir) {
  BuiltOptions built;
  auto& options = built.options;
  options.SetGraphOptimizationLevel(ort_level(config.graph_optimization));
  if (config.cpu_mem_arena) {
    options.EnableCpuMemArena();
  } else {
    options.DisableCpuMemArena();
  }
  if (!config.memory_pattern) options.DisableMemPattern();
  for (const auto provider : wanted) {
    if (provider == ExecutionProvider::kCpu) continue;
    try {
      append_provider(options, provider, provider_options(provider, config.device, model_dir));
      built.providers.push_back(provider);
    } catch (const Ort::Exception& e) {
      spdlog::warn("Execution provider {} could not be enabled ({}); falling back to the next provider",
                   ort_provider_name(provider), e.what());
    }
  }
  built.providers.push_back(ExecutionProvider::kCpu);
  if (const auto& shared = runtime.shared_threads()) {
    options.DisablePerSessionThreads();
    options.SetExecutionMode(shared->threads.parallel_execution ? ORT_PARALLEL : ORT_SEQUENTIAL);
    return built;
  }
  const auto threads = resolve_threads(config.inter_op_threads, config.intra_op_threads, built.providers);
  options.SetInterOpNumThreads(threads.inter_op_threads);
  options.SetIntraOpNumThreads(threads.intra_op_threads);
  options.SetExecutionMode(threads.parallel_execution ? ORT_PARALLEL : ORT_SEQUENTIAL);
  const char* spinning = config.allow_spinning ? "1" : "0";
  options.AddConfigEntry(kOrtSessionOptionsConfigAllowIntraOpSpinning, spinning);
  options.AddConfigEntry(kOrtSessionOptionsConfigAllowInterOpSpinning, spinning);
  return built;
}

bool shape_matches(const std::vector<std::int64_t>& want, const std::vector<std::int64_t>& have) {
  if (want.size() != have.size()) return false;
  for (std::size_t i = 0; i < want.size(); ++i) {
    // A dynamic graph dimension (-1) accepts any required size; a fixed one must match.
    if (want[i] >= 0 && have[i] >= 0 && want[i] != have[i]) return false;
  }
  return true;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) out += ",";
    out += shape[i] < 0 ? "?" : std::to_string(shape[i]);
  }
  return out + "]";
}

Status check(const char* what, const std::filesystem::path& file, std::span<const TensorRequirement> want,
             const std::vector<TensorSpec>& have) {
  auto fail = [&](const std::string& msg) {
    return internal_error("Model " + file.string() + " has an unexpected signature: " + msg);
  };
  if (have.size() < want.size()) {
    return fail(std::string(what) + " count " + std::to_string(have.size()) + ", expected at least " +
                std::to_string(want.size()));
  }
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto& w = want[i];
    const auto& h = have[i];
    const auto label = std::string(what) + " " + std::to_string(i) + " '" + h.name + "'";
    if (!w.name.empty() && w.name != h.name) return fail(label + " should be named '" + w.name + "'");
    if (w.type != h.type) {
      return fail(label + " has type " + std::string(to_string(h.type)) + ", expected " +
                  std::string(to_string(w.type)));
    }
    if (!w.shape.empty() && !shape_matches(w.shape, h.shape)) {
      return fail(label + " has shape " + shape_string(h.shape) + ", expected " + shape_string(w.shape));
    }
  }
  return {};
}

}  // namespace

std::chrono::nanoseconds inference_time_on_this_thread() { return t_inference_time; }

InferenceSession::~InferenceSession() = default;

std::string_view to_string(ElementType type) {
  switch (type) {
    case ElementType::kFloat32:
      return "float32";
    case ElementType::kFloat16:
      return "float16";
    case ElementType::kInt32:
      return "int32";
    case ElementType::kInt64:
      return "int64";
    case ElementType::kUint8:
      return "uint8";
    case ElementType::kOther:
      return "other";
  }
  return "other";
}

Expected<std::unique_ptr<InferenceSession>> InferenceSession::load(OrtRuntime& runtime,
                                                                   const std::filesystem::path& model_file,
                                                                   const SessionConfig& config) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model_file, ec)) {
    return Error{ErrorKind::kNotFound, "Model file not found: " + model_file.string()};
  }
  std::unique_ptr<InferenceSession> self(new InferenceSession());
  self->model_file_ = model_file;
  auto built = build_options(runtime, config, config.providers, model_file.parent_path());
  try {
    try {
      self->session_ = std::make_unique<Ort::Session>(runtime.env(), model_file.c_str(), built.options);
    } catch (const Ort::Exception& e) {
      if (built.providers.size() == 1) throw;
      // An accelerator that registered but cannot take this model (driver, memory): retry on CPU alone.
      spdlog::warn("Loading {} with {} failed ({}); retrying on CPUExecutionProvider", model_file.string(),
                   python_list_repr(built.providers), e.what());
      built = build_options(runtime, config, {ExecutionProvider::kCpu}, model_file.parent_path());
      self->session_ = std::make_unique<Ort::Session>(runtime.env(), model_file.c_str(), built.options);
    }
  } catch (const Ort::Exception& e) {
    return internal_error("Failed to load model " + model_file.string() + ": " + e.what());
  }
  self->providers_ = built.providers;
  if (config.shrink_arena) {
    // Every Run hands the arena chunks it freed back (CPU and, where present, the device's arena), so memory
    // taken by one large input is not kept for the life of the session.
    std::string devices = "cpu:0";
    if (self->providers_.front() == ExecutionProvider::kCuda) devices += ";gpu:" + config.device.device_id;
    self->run_options_.AddConfigEntry(kOrtRunOptionsConfigEnableMemoryArenaShrinkage, devices.c_str());
  }

  Ort::AllocatorWithDefaultOptions allocator;
  const auto& session = *self->session_;
  for (std::size_t i = 0; i < session.GetInputCount(); ++i) {
    self->input_names_.emplace_back(session.GetInputNameAllocated(i, allocator).get());
    self->inputs_.push_back(describe(self->input_names_.back(), session.GetInputTypeInfo(i)));
  }
  for (std::size_t i = 0; i < session.GetOutputCount(); ++i) {
    self->output_names_.emplace_back(session.GetOutputNameAllocated(i, allocator).get());
    self->outputs_.push_back(describe(self->output_names_.back(), session.GetOutputTypeInfo(i)));
  }
  for (const auto& n : self->input_names_) self->input_name_ptrs_.push_back(n.c_str());
  for (const auto& n : self->output_names_) self->output_name_ptrs_.push_back(n.c_str());
  if (config.batching.enabled()) {
    if (first_dim_dynamic(self->inputs_) && first_dim_dynamic(self->outputs_)) {
      self->batcher_ = std::make_unique<detail::Batcher>(*self, config.batching, config.on_batch);
      spdlog::info("Dynamic batching on for {}: up to {} rows, waiting up to {} us", model_file.string(),
                   config.batching.max_batch_size, config.batching.max_queue_delay.count());
    } else {
      spdlog::info("Dynamic batching not used for {}: its graph has a fixed first dimension",
                   model_file.string());
    }
  }
  return self;
}

std::optional<std::string> InferenceSession::custom_metadata(const std::string& key) const {
  try {
    Ort::AllocatorWithDefaultOptions allocator;
    const auto metadata = session_->GetModelMetadata();
    auto value = metadata.LookupCustomMetadataMapAllocated(key.c_str(), allocator);
    if (!value) return std::nullopt;
    return std::string(value.get());
  } catch (const Ort::Exception& e) {
    spdlog::warn("Reading metadata '{}' of {} failed: {}", key, model_file_.string(), e.what());
    return std::nullopt;
  }
}

Status InferenceSession::validate(std::span<const TensorRequirement> inputs,
                                  std::span<const TensorRequirement> outputs) const {
  if (auto st = check("input", model_file_, inputs, inputs_); !st) return st;
  return check("output", model_file_, outputs, outputs_);
}

Expected<std::vector<Ort::Value>> InferenceSession::run(std::span<const Ort::Value> inputs) const {
  const InferenceTimer timer;
  if (batcher_ && inputs.size() == input_name_ptrs_.size()) return batcher_->run(inputs);
  return run_direct(inputs);
}

Expected<std::vector<Ort::Value>> InferenceSession::run_direct(std::span<const Ort::Value> inputs) const {
  if (inputs.size() != input_name_ptrs_.size()) {
    return internal_error("Model " + model_file_.string() + " takes " +
                          std::to_string(input_name_ptrs_.size()) + " inputs, got " +
                          std::to_string(inputs.size()));
  }
  try {
    return session_->Run(run_options_, input_name_ptrs_.data(), inputs.data(), inputs.size(),
                         output_name_ptrs_.data(), output_name_ptrs_.size());
  } catch (const Ort::Exception& e) {
    return internal_error("Inference failed for " + model_file_.string() + ": " + e.what());
  }
}

}  // namespace focal
