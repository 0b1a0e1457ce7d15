// SPDX-License-Identifier: AGPL-3.0-or-later
// The pipeline stages of a tokenizer.json, built from their JSON descriptions. Each mirrors the `tokenizers`
// (0.21) component of the same name; see tokenizer.cpp for how they are chained.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.h"
#include "tokenizer/normalized_string.h"
#include "tokenizer/regex.h"

namespace focal::tok {

using Ids = std::vector<std::int32_t>;

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& text) const = 0;
};

// A piece of the input during pre-tokenization; `ids` is set once it is tokenized (added tokens: at once).
struct Split {
  NormalizedString text;
  std::optional<Ids> ids;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(std::vector<Split>& splits) const = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual void tokenize(std::string_view word, Ids& out) const = 0;
  virtual std::optional<std::int32_t> token_to_id(std::string_view token) const = 0;
  virtual std::size_t vocab_size() const = 0;
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual std::size_t added_tokens() const = 0;  // for a single sequence
  virtual Ids process(Ids ids) const = 0;
};

// A Split/Replace "pattern": {"Regex": "..."} or {"String": "..."}.
Expected<Regex> make_pattern(const nlohmann::json& pattern);

// `json` is one component object of a tokenizer.json. These throw nlohmann::json::exception on malformed JSON
// (tokenizer.cpp turns that into an Error) and return an Error for well-formed but unsupported content.
Expected<std::unique_ptr<Normalizer>> make_normalizer(const nlohmann::json& json);
Expected<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const nlohmann::json& json);
Expected<std::unique_ptr<Model>> make_model(const nlohmann::json& json);
Expected<std::unique_ptr<PostProcessor>> make_post_processor(const nlohmann::json& json);

// A boolean field; missing or null means `fallback` (files from different `tokenizers` versions differ).
inline bool flag(const nlohmann::json& j, const char* key, bool fallback) {
  return j.contains(key) && !j.at(key).is_null() ? j.at(key).get<bool>() : fallback;
}

// Applies `fn` to every piece that has no ids yet and replaces it by the non-empty pieces (NormalizedString
// or Split) it returns (`PreTokenizedString::split`).
template <class Fn>
void split_each(std::vector<Split>& splits, Fn&& fn) {
  std::vector<Split> out;
  out.reserve(splits.size());
  for (Split& split : splits) {
    if (split.ids) {
      out.push_back(std::move(split));
      continue;
    }
    for (auto& piece : fn(std::move(split.text))) {
      if constexpr (std::is_same_v<std::decay_t<decltype(piece)>, Split>) {
        if (!piece.text.empty()) out.push_back(std::move(piece));
      } else if (!piece.empty()) {
        out.push_back(Split{std::move(piece), std::nullopt});
      }
    }
  }
  splits = std::move(out);
}

}  // namespace focal::tok
