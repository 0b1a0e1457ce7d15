// SPDX-License-Identifier: AGPL-3.0-or-later
#include "infer/providers.h"

#include <gtest/gtest.h>

namespace focal {
namespace {

using EP = ExecutionProvider;
const std::string kCpu = "CPUExecutionProvider";
const std::string kCuda = "CUDAExecutionProvider";
const std::string kOpenVino = "OpenVINOExecutionProvider";
const std::string kMigraphx = "MIGraphXExecutionProvider";
const std::string kCoreMl = "CoreMLExecutionProvider";
const std::string kTensorRt = "TensorrtExecutionProvider";

TEST(SelectProviders, AutomaticOrderFollowsImmich) {
  EXPECT_EQ(select_providers({}, {kCpu}).providers, (std::vector<EP>{EP::kCpu}));
  EXPECT_EQ(select_providers({}, {kCuda, kCpu}).providers, (std::vector<EP>{EP::kCuda, EP::kCpu}));
  EXPECT_EQ(select_providers({}, {kOpenVino, kCpu}).providers, (std::vector<EP>{EP::kOpenVino, EP::kCpu}));
  EXPECT_EQ(select_providers({}, {kMigraphx, kCpu}).providers, (std::vector<EP>{EP::kMigraphx, EP::kCpu}));
  EXPECT_EQ(select_providers({}, {kCoreMl, kCpu}).providers, (std::vector<EP>{EP::kCoreMl, EP::kCpu}));
  // Out-of-order availability is re-sorted and TensorRT is dropped.
  EXPECT_EQ(select_providers({}, {kCpu, kOpenVino, kTensorRt, kCuda}).providers,
            (std::vector<EP>{EP::kCuda, EP::kOpenVino, EP::kCpu}));
  EXPECT_TRUE(select_providers({}, {kCuda, kCpu}).warnings.empty());
}

TEST(SelectProviders, RequestedMissingProviderWarnsAndFallsBackToCpu) {
  const auto s = select_providers({"cuda"}, {kCpu});
  EXPECT_EQ(s.providers, (std::vector<EP>{EP::kCpu}));
  ASSERT_EQ(s.warnings.size(), 1U);
  EXPECT_NE(s.warnings[0].find("CUDAExecutionProvider"), std::string::npos);
}

TEST(SelectProviders, RequestedOrderIsKeptAndCpuTerminates) {
  EXPECT_EQ(select_providers({"openvino", "cuda"}, {kCuda, kOpenVino, kCpu}).providers,
            (std::vector<EP>{EP::kOpenVino, EP::kCuda, EP::kCpu}));
  EXPECT_EQ(select_providers({"cpu", "cuda"}, {kCuda, kCpu}).providers, (std::vector<EP>{EP::kCpu}));
  EXPECT_EQ(select_providers({"cuda", "cuda"}, {kCuda, kCpu}).providers,
            (std::vector<EP>{EP::kCuda, EP::kCpu}));
}

TEST(SelectProviders, LogRenderingsMatchImmich) {
  EXPECT_EQ(python_set_repr({kCuda, kCpu}), "{'CUDAExecutionProvider', 'CPUExecutionProvider'}");
  EXPECT_EQ(python_list_repr({EP::kCuda, EP::kCpu}), "['CUDAExecutionProvider', 'CPUExecutionProvider']");
}

TEST(ProviderOptions, MatchSpecTable) {
  DeviceSettings dev;
  dev.device_id = "1";
  EXPECT_EQ(provider_options(EP::kCpu, dev, "/m"),
            (ProviderOptions{{"arena_extend_strategy", "kSameAsRequested"}}));
  EXPECT_EQ(provider_options(EP::kCuda, dev, "/m"),
            (ProviderOptions{{"arena_extend_strategy", "kSameAsRequested"}, {"device_id", "1"}}));
  EXPECT_EQ(provider_options(EP::kOpenVino, dev, "/m"),
            (ProviderOptions{{"device_type", "GPU.1"}, {"precision", "FP32"}, {"cache_dir", "/m/openvino"}}));
  dev.openvino_devices = {"CPU"};  // no GPU reported: Immich runs OpenVINO on the CPU
  EXPECT_EQ(provider_options(EP::kOpenVino, dev, "/m").at("device_type"), "CPU");
  dev.openvino_devices = {"CPU", "GPU.0", "GPU.1"};
  EXPECT_EQ(provider_options(EP::kOpenVino, dev, "/m").at("device_type"), "GPU.1");
  dev.openvino_device_type = "CPU";
  dev.openvino_precision = "FP16";
  EXPECT_EQ(provider_options(EP::kOpenVino, dev, "/m").at("device_type"), "CPU");
  EXPECT_EQ(provider_options(EP::kOpenVino, dev, "/m").at("precision"), "FP16");
  dev.migraphx_fp16 = true;
  EXPECT_EQ(
      provider_options(EP::kMigraphx, dev, "/m"),
      (ProviderOptions{
          {"device_id", "1"}, {"migraphx_model_cache_dir", "/m/migraphx"}, {"migraphx_fp16_enable", "1"}}));
  EXPECT_EQ(provider_options(EP::kCoreMl, dev, "/m").at("ModelCacheDirectory"), "/m/coreml");
  EXPECT_EQ(provider_options(EP::kCoreMl, dev, "/m").at("ModelFormat"), "MLProgram");
}

TEST(ResolveThreads, ImmichRules) {
  const auto cpu = resolve_threads(0, 0, {EP::kCpu});
  EXPECT_EQ(cpu.inter_op_threads, 1);
  EXPECT_EQ(cpu.intra_op_threads, 2);
  EXPECT_FALSE(cpu.parallel_execution);
  const auto gpu = resolve_threads(0, 0, {EP::kCuda, EP::kCpu});
  EXPECT_EQ(gpu.inter_op_threads, 0);
  EXPECT_EQ(gpu.intra_op_threads, 0);
  const auto ov = resolve_threads(0, 0, {EP::kOpenVino, EP::kCpu});
  EXPECT_EQ(ov.inter_op_threads, 0);
  const auto explicit_gpu = resolve_threads(2, 4, {EP::kCuda, EP::kCpu});
  EXPECT_EQ(explicit_gpu.inter_op_threads, 2);
  EXPECT_EQ(explicit_gpu.intra_op_threads, 4);
  EXPECT_TRUE(explicit_gpu.parallel_execution);
}

}  // namespace
}  // namespace focal
