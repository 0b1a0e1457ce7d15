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

}  // namespace

OrtRuntime::OrtRuntime(std::optional<std::vector<std::string>> provider_override)
    : env_(std::make_unique<Ort::Env>(ORT_LOGGING_LEVEL_WARNING, "focal", ort_log, nullptr)),
      available_(provider_override ? std::move(*provider_override) : Ort::GetAvailableProviders()) {}

OrtRuntime::~OrtRuntime() = default;

Ort::Env& OrtRuntime::env() { return *env_; }

std::string OrtRuntime::version() { return Ort::GetVersionString(); }

}  // namespace focal
