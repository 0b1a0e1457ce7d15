// SPDX-License-Identifier: AGPL-3.0-or-later
// CLIP text tokenization: a C++ implementation of the Hugging Face `tokenizers` tokenizer.json pipeline,
// configured as Immich's CLIP textual encoders use it: fixed-length truncation and padding.
// Token ids are identical to the Python `tokenizers` 0.21 output; tests/tokenizer/parity_test.cpp checks
// this on every supported family.
//
// Components: normalizers NFC/NFD/NFKC/NFKD, Lowercase, Strip, StripAccents, Replace, Prepend,
// BertNormalizer, Precompiled (sentencepiece charsmaps) and Sequence; pre-tokenizers Split, ByteLevel,
// Metaspace, Whitespace, WhitespaceSplit, BertPreTokenizer, Punctuation, Digits and Sequence; models BPE,
// Unigram and WordPiece; post-processors TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel
// and Sequence; added tokens with all their flags. Other types fail to load, with an error naming them.
//
// Known differences from the Python library:
// - Characters first assigned in Unicode 15.1 or later may tokenize differently: the Python wheel
//   lower-cases and classifies with Rust's Unicode 16 tables, this code with ICU 72 (Unicode 15).
// - Where `tokenizers` fails the whole encode (an unknown character but no usable unk token), that
//   character or word is dropped instead. BPE dropout is ignored: tokenization is deterministic.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace focal {

struct TokenizerOptions {
  int context_length = 77;  // config.json text_cfg.context_length; Immich uses 77 when it is absent
  std::string pad_token;    // tokenizer_config.json "pad_token"; must be in the vocabulary
};

struct Encoding {
  std::vector<std::int32_t> ids;             // exactly context_length: tokens, then the pad token's id
  std::vector<std::int32_t> attention_mask;  // 1 for tokens (special ones included), 0 for padding
};

// Immutable once loaded; copies share the loaded pipeline, and encode() may run on any number of threads.
class Tokenizer {
 public:
  static Expected<Tokenizer> from_file(const std::filesystem::path& tokenizer_json, TokenizerOptions options);
  static Expected<Tokenizer> from_json(std::string_view tokenizer_json, TokenizerOptions options);

  // Any bytes are accepted: invalid UTF-8 becomes U+FFFD, as when Python decodes it with errors="replace".
  // Too long texts are truncated, keeping the special tokens the post-processor adds.
  Encoding encode(std::string_view text) const;

  int context_length() const;

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Immich's clean_text: collapses runs of (Python) whitespace to one space and trims. With `canonicalize`
// (config.json text_cfg.tokenizer_kwargs.clean == "canonicalize") it then deletes ASCII punctuation and
// lower-cases.
std::string clean_text(std::string_view text, bool canonicalize);

// The FLORES-200 code NLLB expects for an Immich (Weblate) language code, trying the part before '-' second;
// nullopt when unknown (Immich then logs and uses "eng_Latn"). Immich prepends it without a space.
std::optional<std::string_view> nllb_language_code(std::string_view language);

}  // namespace focal
