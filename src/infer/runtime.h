// SPDX-License-Identifier: AGPL-3.0-or-later
// The process's single ONNX Runtime environment. Created once in main() and passed by reference.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace Ort {
struct Env;
}

namespace focal {

class OrtRuntime {
 public:
  // `provider_override` replaces what the linked runtime reports (tests inject fake provider lists).
  explicit OrtRuntime(std::optional<std::vector<std::string>> provider_override = std::nullopt);
  ~OrtRuntime();
  OrtRuntime(const OrtRuntime&) = delete;
  OrtRuntime& operator=(const OrtRuntime&) = delete;

  Ort::Env& env();
  const std::vector<std::string>& available_providers() const { return available_; }
  static std::string version();

 private:
  std::unique_ptr<Ort::Env> env_;
  std::vector<std::string> available_;
};

}  // namespace focal
