// SPDX-License-Identifier: AGPL-3.0-or-later
#include "clip/clip_config.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace focal {
namespace {

using nlohmann::json;

Expected<json> read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return internal_error("Cannot read " + path.string());
  auto j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return internal_error("Invalid JSON in " + path.string());
  return j;
}

Error bad(const std::filesystem::path& path, const std::string& what) {
  return internal_error("Invalid " + path.string() + ": " + what);
}

}  // namespace

Expected<ClipModelConfig> load_clip_model_config(const std::filesystem::path& config_json) {
  auto j = read_json(config_json);
  if (!j) return std::move(j).error();
  ClipModelConfig cfg;
  if (!j->contains("embed_dim") || !(*j)["embed_dim"].is_number_integer() ||
      (*j)["embed_dim"].get<int>() <= 0) {
    return bad(config_json, "embed_dim must be a positive integer");
  }
  cfg.embed_dim = (*j)["embed_dim"].get<int>();
  if (j->contains("text_cfg") && (*j)["text_cfg"].is_object()) {
    const auto& text = (*j)["text_cfg"];
    if (text.contains("context_length") && !text["context_length"].is_null()) {
      if (!text["context_length"].is_number_integer() || text["context_length"].get<int>() < 2) {
        return bad(config_json, "text_cfg.context_length must be an integer >= 2");
      }
      cfg.context_length = text["context_length"].get<int>();
    }
    if (text.contains("tokenizer_kwargs") && text["tokenizer_kwargs"].is_object()) {
      const auto& kw = text["tokenizer_kwargs"];
      cfg.canonicalize = kw.contains("clean") && kw["clean"] == "canonicalize";
    }
  }
  return cfg;
}

Expected<ClipPreprocessConfig> load_clip_preprocess_config(const std::filesystem::path& preprocess_cfg_json) {
  auto j = read_json(preprocess_cfg_json);
  if (!j) return std::move(j).error();
  ClipPreprocessConfig cfg;
  const auto& size = (*j)["size"];
  const auto& first = size.is_array() && !size.empty() ? size[0] : size;
  if (!first.is_number_integer() || first.get<int>() < 1 || first.get<int>() > 4096) {
    return bad(preprocess_cfg_json, "size must be a positive integer or a list of them");
  }
  cfg.size = first.get<int>();
  for (const char* key : {"mean", "std"}) {
    const auto& v = (*j)[key];
    if (!v.is_array() || v.size() != 3 || !v[0].is_number() || !v[1].is_number() || !v[2].is_number()) {
      return bad(preprocess_cfg_json, std::string(key) + " must be a list of 3 numbers");
    }
    auto& out = std::string(key) == "mean" ? cfg.mean : cfg.std;
    for (std::size_t c = 0; c < 3; ++c) out[c] = v[c].get<float>();
  }
  for (const float s : cfg.std) {
    if (!(s > 0.0F)) return bad(preprocess_cfg_json, "std values must be positive");
  }
  return cfg;
}

Expected<std::string> load_pad_token(const std::filesystem::path& tokenizer_config_json) {
  auto j = read_json(tokenizer_config_json);
  if (!j) return std::move(j).error();
  const auto& pad = (*j)["pad_token"];
  if (pad.is_string()) return pad.get<std::string>();
  if (pad.is_object() && pad.contains("content") && pad["content"].is_string())
    return pad["content"].get<std::string>();
  return bad(tokenizer_config_json, "pad_token is missing");
}

}  // namespace focal
