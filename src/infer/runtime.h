// SPDX-License-Identifier: AGPL-3.0-or-later
// The process's single ONNX Runtime environment. Created once in main() and passed by reference.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "infer/providers.h"

namespace Ort {
struct Env;
}

namespace focal {

// One intra-op and one inter-op thread pool for every session of the process (ORT's global thread pools):
// several loaded models then share the cores instead of each starting pools of its own and oversubscribing
// them.
struct SharedThreadPools {
  ThreadSettings threads;
  // Idle pool threads spin before sleeping. Off by default: on small machines a spinning thread takes the
  // core the next pipeline stage (decode, another model's Run) needs.
  bool allow_spinning = false;
};

struct RuntimeOptions {
  std::optional<SharedThreadPools> shared_threads;  // nullopt: every session gets pools of its own
  // Replaces what the linked runtime reports (tests inject fake provider lists).
  std::optional<std::vector<std::string>> provider_override;
};

class OrtRuntime {
 public:
  explicit OrtRuntime(RuntimeOptions options = {});
  ~OrtRuntime();
  OrtRuntime(const OrtRuntime&) = delete;
  OrtRuntime& operator=(const OrtRuntime&) = delete;

  Ort::Env& env();
  const std::vector<std::string>& available_providers() const { return available_; }
  const std::optional<SharedThreadPools>& shared_threads() const { return shared_threads_; }
  static std::string version();
  // The providers the linked ONNX Runtime offers, without creating an environment.
  static std::vector<std::string> linked_providers();

 private:
  std::optional<SharedThreadPools> shared_threads_;
  std::unique_ptr<Ort::Env> env_;
  std::vector<std::string> available_;
};

}  // namespace focal
