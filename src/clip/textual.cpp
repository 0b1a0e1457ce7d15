// SPDX-License-Identifier: AGPL-3.0-or-later
#include "clip/textual.h"

#include <spdlog/spdlog.h>

#include <array>

namespace focal {

Expected<std::unique_ptr<ClipTextualEncoder>> ClipTextualEncoder::load(OrtRuntime& runtime,
                                                                       const std::filesystem::path& model_dir,
                                                                       const SessionConfig& session_config,
                                                                       bool mclip, bool nllb) {
  auto config = load_clip_model_config(model_dir.parent_path() / "config.json");
  if (!config) return std::move(config).error();
  auto pad = load_pad_token(model_dir / "tokenizer_config.json");
  if (!pad) return std::move(pad).error();
  auto tokenizer =
      Tokenizer::from_file(model_dir / "tokenizer.json", TokenizerOptions{config->context_length, *pad});
  if (!tokenizer) return std::move(tokenizer).error();
  auto session = InferenceSession::load(runtime, model_dir / "model.onnx", session_config);
  if (!session) return std::move(session).error();

  const std::int64_t length = config->context_length;
  std::vector<TensorRequirement> inputs;
  if (mclip) {
    inputs = {{"input_ids", ElementType::kInt32, {1, length}},
              {"attention_mask", ElementType::kInt32, {1, length}}};
  } else {
    inputs = {{"", ElementType::kInt32, {1, length}}};
  }
  const std::vector<TensorRequirement> outputs{{"", ElementType::kFloat32, {1, config->embed_dim}}};
  if (auto st = (*session)->validate(inputs, outputs); !st) {
    return internal_error(st.error().message + " (config.json embed_dim " +
                          std::to_string(config->embed_dim) + ", context length " + std::to_string(length) +
                          ")");
  }
  std::unique_ptr<ClipTextualEncoder> encoder(new ClipTextualEncoder());
  encoder->session_ = std::move(*session);
  encoder->tokenizer_ = std::make_unique<Tokenizer>(std::move(*tokenizer));
  encoder->config_ = *config;
  encoder->mclip_ = mclip;
  encoder->nllb_ = nllb;
  return encoder;
}

std::string ClipTextualEncoder::prepare(std::string_view text,
                                        const std::optional<std::string>& language) const {
  auto cleaned = clean_text(text, config_.canonicalize);
  if (!nllb_ || !language) return cleaned;
  // Intended upstream behaviour (the prefix reaches the tokenizer); Immich 3.1 drops it (#29751).
  const auto code = nllb_language_code(*language);
  if (!code) spdlog::warn("Language '{}' not found, defaulting to 'en'", *language);
  return std::string(code.value_or("eng_Latn")) + cleaned;
}

Expected<std::vector<float>> ClipTextualEncoder::embed(std::string_view text,
                                                       const std::optional<std::string>& language) const {
  auto encoding = tokenizer_->encode(prepare(text, language));
  const std::array<std::int64_t, 2> shape{1, static_cast<std::int64_t>(encoding.ids.size())};
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeCPU);
  std::vector<Ort::Value> inputs;
  inputs.push_back(Ort::Value::CreateTensor<std::int32_t>(memory, encoding.ids.data(), encoding.ids.size(),
                                                          shape.data(), shape.size()));
  if (mclip_) {
    inputs.push_back(Ort::Value::CreateTensor<std::int32_t>(
        memory, encoding.attention_mask.data(), encoding.attention_mask.size(), shape.data(), shape.size()));
  }
  auto outputs = session_->run(inputs);
  if (!outputs) return std::move(outputs).error();
  const auto count = (*outputs)[0].GetTensorTypeAndShapeInfo().GetElementCount();
  if (count < static_cast<std::size_t>(config_.embed_dim)) {
    return internal_error("CLIP textual model returned " + std::to_string(count) + " values, expected " +
                          std::to_string(config_.embed_dim));
  }
  const float* row0 = (*outputs)[0].GetTensorData<float>();
  return std::vector<float>(row0, row0 + config_.embed_dim);
}

}  // namespace focal
