// SPDX-License-Identifier: AGPL-3.0-or-later
// Execution-provider selection and options, following Immich's rules. Pure functions, so the
// selection, fallback and option logic is tested on machines without any accelerator.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace focal {

enum class ExecutionProvider { kCuda, kMigraphx, kOpenVino, kCoreMl, kCpu };

// ORT's name, e.g. "CUDAExecutionProvider".
std::string_view ort_provider_name(ExecutionProvider provider);
std::optional<ExecutionProvider> provider_from_ort_name(std::string_view name);
// Configuration spelling: cuda, migraphx, openvino, coreml, cpu.
std::optional<ExecutionProvider> provider_from_config_name(std::string_view name);

struct ProviderSelection {
  std::vector<ExecutionProvider> providers;  // in descending order of preference; always ends with CPU
  std::vector<std::string> warnings;         // requested providers this runtime lacks
};

// `requested` empty: Immich's automatic order CUDA, MIGraphX, OpenVINO, CoreML, CPU filtered by `available`
// (anything else ORT offers, e.g. TensorRT, is ignored). Otherwise the requested order, each missing provider
// producing a warning, with CPU appended as the final fallback.
ProviderSelection select_providers(const std::vector<std::string>& requested,
                                   const std::vector<std::string>& available);

// Python-style renderings used in Immich's log lines: {'A', 'B'} and ['A', 'B'].
std::string python_set_repr(const std::vector<std::string>& names);
std::string python_list_repr(const std::vector<ExecutionProvider>& providers);

struct DeviceSettings {
  std::string device_id = "0";
  std::string openvino_precision = "FP32";  // FP32 | FP16
  std::string openvino_device_type;         // empty: Immich's rule, see openvino_devices
  // Devices the OpenVINO runtime reports ("CPU", "GPU.0"...). Immich uses "GPU.<device_id>" when any of them
  // is a GPU and "CPU" otherwise; empty (not known: ORT's C API does not list them) means "GPU.<device_id>",
  // and a session that cannot start there falls back to the CPU provider.
  std::vector<std::string> openvino_devices;
  bool migraphx_fp16 = false;
};

using ProviderOptions = std::map<std::string, std::string>;

// Provider options exactly as Immich sets them; `model_dir` hosts the per-EP compile caches.
ProviderOptions provider_options(ExecutionProvider provider, const DeviceSettings& device,
                                 const std::filesystem::path& model_dir);

struct ThreadSettings {
  int inter_op_threads = 0;  // 0 = ORT default
  int intra_op_threads = 0;
  bool parallel_execution = false;
};

// Immich's thread rules: configured values when > 0; with CPU as the only provider 0 means 1 inter / 2 intra;
// more than one inter-op thread switches to parallel execution.
ThreadSettings resolve_threads(int inter_configured, int intra_configured,
                               const std::vector<ExecutionProvider>& providers);

}  // namespace focal
