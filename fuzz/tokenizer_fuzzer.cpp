// SPDX-License-Identifier: AGPL-3.0-or-later
// The tokenizer.json pipeline (normalizers, pre-tokenizers, BPE / Unigram / WordPiece, post-processors) of
// every tokenizer family found under $FOCAL_FUZZ_TOKENIZERS (scripts/fuzz.sh points it at the generated
// models and the parity families). Input: one byte choosing the family, then the text.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

std::vector<focal::Tokenizer>& families() {
  static std::vector<focal::Tokenizer> loaded;  // the fuzzer's fixture, loaded once
  return loaded;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* root = std::getenv("FOCAL_FUZZ_TOKENIZERS");
  if (root == nullptr) return 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root, ec)) {
    if (entry.path().filename() != "tokenizer.json") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    focal::TokenizerOptions options;
    options.context_length = 64;
    for (const char* pad : {"<pad>", "<|endoftext|>", "[PAD]", "</s>"}) {
      options.pad_token = pad;
      if (auto tokenizer = focal::Tokenizer::from_json(text.str(), options)) {
        families().push_back(std::move(*tokenizer));
        break;
      }
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (families().empty() || size == 0) return 0;
  const auto& tokenizer = families()[data[0] % families().size()];
  const auto encoding = tokenizer.encode(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  if (encoding.ids.size() != 64 || encoding.attention_mask.size() != 64) __builtin_trap();
  return 0;
}
