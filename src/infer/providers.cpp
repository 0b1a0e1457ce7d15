// SPDX-License-Identifier: AGPL-3.0-or-later
#include "infer/providers.h"

#include <algorithm>
#include <array>

namespace focal {
namespace {

struct ProviderNames {
  ExecutionProvider provider;
  std::string_view ort;
  std::string_view config;
};

constexpr std::array kProviders = {
    ProviderNames{ExecutionProvider::kCuda, "CUDAExecutionProvider", "cuda"},
    ProviderNames{ExecutionProvider::kMigraphx, "MIGraphXExecutionProvider", "migraphx"},
    ProviderNames{ExecutionProvider::kOpenVino, "OpenVINOExecutionProvider", "openvino"},
    ProviderNames{ExecutionProvider::kCoreMl, "CoreMLExecutionProvider", "coreml"},
    ProviderNames{ExecutionProvider::kCpu, "CPUExecutionProvider", "cpu"},
};

bool is_available(const std::vector<std::string>& available, ExecutionProvider provider) {
  return std::find(available.begin(), available.end(), ort_provider_name(provider)) != available.end();
}

}  // namespace

std::string_view ort_provider_name(ExecutionProvider provider) {
  for (const auto& p : kProviders) {
    if (p.provider == provider) return p.ort;
  }
  return "?";
}

std::optional<ExecutionProvider> provider_from_ort_name(std::string_view name) {
  for (const auto& p : kProviders) {
    if (p.ort == name) return p.provider;
  }
  return std::nullopt;
}

std::optional<ExecutionProvider> provider_from_config_name(std::string_view name) {
  for (const auto& p : kProviders) {
    if (p.config == name) return p.provider;
  }
  return std::nullopt;
}

ProviderSelection select_providers(const std::vector<std::string>& requested,
                                   const std::vector<std::string>& available) {
  ProviderSelection out;
  if (requested.empty()) {
    for (const auto& p : kProviders) {
      if (p.provider == ExecutionProvider::kCpu || is_available(available, p.provider))
        out.providers.push_back(p.provider);
    }
    return out;
  }
  for (const auto& name : requested) {
    const auto provider = provider_from_config_name(name);
    if (!provider) {
      out.warnings.push_back("Unknown execution provider '" + name + "' ignored");
      continue;
    }
    if (std::find(out.providers.begin(), out.providers.end(), *provider) != out.providers.end()) continue;
    if (*provider != ExecutionProvider::kCpu && !is_available(available, *provider)) {
      out.warnings.push_back("Requested execution provider " + std::string(ort_provider_name(*provider)) +
                             " is not available in this ONNX Runtime build; falling back");
      continue;
    }
    out.providers.push_back(*provider);
  }
  // CPU is always the last resort, and nothing after it would ever be used.
  const auto cpu = std::find(out.providers.begin(), out.providers.end(), ExecutionProvider::kCpu);
  if (cpu == out.providers.end()) {
    out.providers.push_back(ExecutionProvider::kCpu);
  } else {
    out.providers.erase(cpu + 1, out.providers.end());
  }
  return out;
}

std::string python_set_repr(const std::vector<std::string>& names) {
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i != 0) out += ", ";
    out += "'" + names[i] + "'";
  }
  return out + "}";
}

std::string python_list_repr(const std::vector<ExecutionProvider>& providers) {
  std::string out = "[";
  for (std::size_t i = 0; i < providers.size(); ++i) {
    if (i != 0) out += ", ";
    out += "'" + std::string(ort_provider_name(providers[i])) + "'";
  }
  return out + "]";
}

ProviderOptions provider_options(ExecutionProvider provider, const DeviceSettings& device,
                                 const std::filesystem::path& model_dir) {
  switch (provider) {
    case ExecutionProvider::kCpu:
      return {{"arena_extend_strategy", "kSameAsRequested"}};
    case ExecutionProvider::kCuda:
      return {{"arena_extend_strategy", "kSameAsRequested"}, {"device_id", device.device_id}};
    case ExecutionProvider::kMigraphx:
      return {{"device_id", device.device_id},
              {"migraphx_model_cache_dir", (model_dir / "migraphx").string()},
              {"migraphx_fp16_enable", device.migraphx_fp16 ? "1" : "0"}};
    case ExecutionProvider::kOpenVino: {
      std::string device_type = device.openvino_device_type;
      if (device_type.empty()) {
        const bool gpu = device.openvino_devices.empty() ||
                         std::any_of(device.openvino_devices.begin(), device.openvino_devices.end(),
                                     [](const std::string& d) { return d.rfind("GPU", 0) == 0; });
        device_type = gpu ? "GPU." + device.device_id : "CPU";
      }
      return {{"device_type", device_type},
              {"precision", device.openvino_precision},
              {"cache_dir", (model_dir / "openvino").string()}};
    }
    case ExecutionProvider::kCoreMl:
      return {{"ModelFormat", "MLProgram"},
              {"MLComputeUnits", "ALL"},
              {"SpecializationStrategy", "FastPrediction"},
              {"AllowLowPrecisionAccumulationOnGPU", "1"},
              {"ModelCacheDirectory", (model_dir / "coreml").string()}};
  }
  return {};
}

ThreadSettings resolve_threads(int inter_configured, int intra_configured,
                               const std::vector<ExecutionProvider>& providers) {
  const bool cpu_only = providers.size() == 1 && providers.front() == ExecutionProvider::kCpu;
  ThreadSettings t;
  t.inter_op_threads = inter_configured > 0 ? inter_configured : (cpu_only ? 1 : 0);
  t.intra_op_threads = intra_configured > 0 ? intra_configured : (cpu_only ? 2 : 0);
  t.parallel_execution = t.inter_op_threads > 1;
  return t;
}

}  // namespace focal
