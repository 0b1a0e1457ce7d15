// SPDX-License-Identifier: AGPL-3.0-or-later
// CLIP text tower, as Immich runs it: clean the text (whitespace collapse; canonicalize for SigLIP-family
// configs), optional NLLB language prefix, tokenise to exactly the context length, run, output row 0.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clip/clip_config.h"
#include "infer/session.h"
#include "tokenizer/tokenizer.h"

namespace focal {

class ClipTextualEncoder {
 public:
  // `model_dir` is <cache>/clip/<name>/textual; config.json is read from its parent. `mclip` selects the
  // input_ids + attention_mask signature; `nllb` enables the language prefix.
  static Expected<std::unique_ptr<ClipTextualEncoder>> load(OrtRuntime& runtime,
                                                            const std::filesystem::path& model_dir,
                                                            const SessionConfig& session_config, bool mclip,
                                                            bool nllb);

  // The exact text the tokenizer sees (cleaning and prefix applied).
  std::string prepare(std::string_view text, const std::optional<std::string>& language) const;
  Expected<std::vector<float>> embed(std::string_view text, const std::optional<std::string>& language) const;

 private:
  ClipTextualEncoder() = default;
  std::unique_ptr<InferenceSession> session_;
  std::unique_ptr<Tokenizer> tokenizer_;
  ClipModelConfig config_;
  bool mclip_ = false;
  bool nllb_ = false;
};

}  // namespace focal
