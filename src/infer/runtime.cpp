// SPDX-License-Identifier: AGPL-3.0-or-later
#include "infer/runtime.h"

#include <onnxruntime_cxx_api.h>
#include <spdlog/spdlog.h>

namespace focal {
namespace {

// Routes ORT's own log lines into our logger instead of ORT's stderr format.
void ort_log(void* /*param*/, OrtLoggingLevel severity, const char* category, const char* /*logid*/,
             const char* code_location, const char* message) {
  const auto level = severity >= ORT_LOGGING_LEVEL_ERROR     ? spdlog::level::err
                     : severity == ORT_LOGGING_LEVEL_WARNING ? spdlog::level::warn
                                                             : spdlog::level::debug;
  spdlog::log(level, "[onnxruntime:{}] {} ({})", category, message, code_location);
}

std::unique_ptr<Ort::Env> make_env(const std::optional<SharedThreadPools>& shared) {
  if (!shared) return std::make_unique<Ort::Env>(ORT_LOGGING_LEVEL_WARNING, "focal", ort_log, nullptr);
  Ort::ThreadingOptions threading;
  threading.SetGlobalIntraOpNumThreads(shared->threads.intra_op_threads);
  threading.SetGlobalInterOpNumThreads(shared->threads.inter_op_threads);
  threading.SetGlobalSpinControl(shared->allow_spinning ? 1 : 0);
  return std::make_unique<Ort::Env>(threading, ort_log, nullptr, ORT_LOGGING_LEVEL_WARNING, "focal");
}

}  // namespace

OrtRuntime::OrtRuntime(RuntimeOptions options)
    : shared_threads_(options.shared_threads),
      env_(make_env(shared_threads_)),
      available_(options.provider_override ? std::move(*options.provider_override) : linked_providers()) {}

std::vector<std::string> OrtRuntime::linked_providers() { return Ort::GetAvailableProviders(); }

OrtRuntime::~OrtRuntime() = default;

Ort::Env& OrtRuntime::env() { return *env_; }

std::string OrtRuntime::version() { return Ort::GetVersionString(); }

}  // namespace focal
