// SPDX-License-Identifier: AGPL-3.0-or-later
// The CLIP files next to the ONNX graphs, which decide the model family's behaviour: config.json at the
// model root, visual/preprocess_cfg.json, textual/tokenizer_config.json.
#pragma once

#include <array>
#include <filesystem>
#include <string>

#include "core/error.h"

namespace focal {

struct ClipModelConfig {
  int embed_dim = 0;
  int context_length = 77;    // text_cfg.context_length, 77 when absent
  bool canonicalize = false;  // text_cfg.tokenizer_kwargs.clean == "canonicalize"
};

struct ClipPreprocessConfig {
  int size = 224;  // first element when a list
  std::array<float, 3> mean{};
  std::array<float, 3> std{};
};

Expected<ClipModelConfig> load_clip_model_config(const std::filesystem::path& config_json);
Expected<ClipPreprocessConfig> load_clip_preprocess_config(const std::filesystem::path& preprocess_cfg_json);
// tokenizer_config.json's pad_token (a string, or an AddedToken object with "content").
Expected<std::string> load_pad_token(const std::filesystem::path& tokenizer_config_json);

}  // namespace focal
