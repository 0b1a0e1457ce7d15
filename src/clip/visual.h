// SPDX-License-Identifier: AGPL-3.0-or-later
// CLIP image tower, as Immich preprocesses: shortest side to S with Pillow BICUBIC, centre crop S x S,
// (x/255 - mean) / std, NCHW float32, output row 0 (already L2-normalised by the graph).
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "clip/clip_config.h"
#include "image/decode.h"
#include "infer/session.h"

namespace focal {

// The model input for one image, [3, S, S] planar; exposed for the parity tests against the Python reference.
std::vector<float> clip_visual_tensor(const RgbImage& image, const ClipPreprocessConfig& config);

class ClipVisualEncoder {
 public:
  // `model_dir` is <cache>/clip/<name>/visual; config.json is read from its parent.
  static Expected<std::unique_ptr<ClipVisualEncoder>> load(OrtRuntime& runtime,
                                                           const std::filesystem::path& model_dir,
                                                           const SessionConfig& session_config);
  Expected<std::vector<float>> embed(const RgbImage& image) const;
  int embed_dim() const { return embed_dim_; }

 private:
  ClipVisualEncoder() = default;
  std::unique_ptr<InferenceSession> session_;
  ClipPreprocessConfig preprocess_;
  int embed_dim_ = 0;
};

}  // namespace focal
