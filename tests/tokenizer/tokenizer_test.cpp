// SPDX-License-Identifier: AGPL-3.0-or-later
// Unit tests of the tokenizer API: Immich's clean_text, the NLLB language table, loading errors, the
// fixed-length output contract and thread safety. Token-id correctness is parity_test.cpp's job.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

namespace focal {
namespace {

const std::string kModels = FOCAL_TEST_MODELS;

// A minimal valid tokenizer.json; tests replace parts of it.
std::string minimal_json(const std::string& normalizer = "null", const std::string& post_processor = "null") {
  return R"({"version": "1.0", "added_tokens": [], "normalizer": )" + normalizer +
         R"(, "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": )" + post_processor +
         R"(, "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "[PAD]": 1, "a": 2}}})";
}

TEST(CleanText, CollapsesWhitespace) {
  EXPECT_EQ(clean_text("test   search query", false), "test search query");  // Immich's test case
  EXPECT_EQ(clean_text(" \t a\u00a0\u3000b\n\x1c c \u2028", false),
            "a b c");                                                // Python str.split() whitespace
  EXPECT_EQ(clean_text("a\u200bb\u180e", false), "a\u200bb\u180e");  // not whitespace for Python
  EXPECT_EQ(clean_text("", false), "");
  EXPECT_EQ(clean_text(" \n\t ", false), "");
  EXPECT_EQ(clean_text("Keep Case!", false), "Keep Case!");
}

TEST(CleanText, Canonicalize) {
  EXPECT_EQ(clean_text("Test   Search Query!", true), "test search query");  // Immich's test case
  EXPECT_EQ(clean_text("a - b", true), "a  b");  // spaces are not collapsed again after the punctuation goes
  EXPECT_EQ(clean_text(R"(!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~)", true), "");
  EXPECT_EQ(clean_text("¿Qué? «Ça»", true), "¿qué «ça»");  // only ASCII punctuation is removed
  EXPECT_EQ(clean_text("ΟΔΥΣΣΕΥΣ", true), "οδυσσευς");     // Python's lower(): final sigma
  EXPECT_EQ(clean_text("İstanbul", true), "i\u0307stanbul");
}

TEST(CleanText, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(clean_text("a\xff b", false), "a\ufffd b");
  EXPECT_EQ(clean_text("\xe2\x82 x", false), "\ufffd x");  // one U+FFFD per truncated sequence, as Python
  EXPECT_EQ(clean_text("\xed\xa0\x80", false), "\ufffd\ufffd\ufffd");  // encoded surrogate
}

TEST(NllbLanguageCode, ImmichTable) {
  EXPECT_EQ(nllb_language_code("de"), "deu_Latn");
  EXPECT_EQ(nllb_language_code("de-CH"), "deu_Latn");  // falls back to the part before '-'
  EXPECT_EQ(nllb_language_code("nb-NO"), "nob_Latn");
  EXPECT_EQ(nllb_language_code("pt-BR"), "por_Latn");
  EXPECT_EQ(nllb_language_code("zh-TW"), "zho_Hant");
  EXPECT_EQ(nllb_language_code("unknown"), std::nullopt);
  EXPECT_EQ(nllb_language_code(""), std::nullopt);
}

TEST(TokenizerLoad, RejectsBadInput) {
  EXPECT_FALSE(Tokenizer::from_file("/nonexistent/tokenizer.json", {77, "[PAD]"}).ok());
  EXPECT_FALSE(Tokenizer::from_json("{not json", {77, "[PAD]"}).ok());
  EXPECT_FALSE(Tokenizer::from_json(R"({"model": 3})", {77, "[PAD]"}).ok());
  EXPECT_TRUE(Tokenizer::from_json(minimal_json(), {77, "[PAD]"}).ok());

  const auto no_pad = Tokenizer::from_json(minimal_json(), {77, "<pad>"});
  ASSERT_FALSE(no_pad.ok());
  EXPECT_NE(no_pad.error().message.find("<pad>"), std::string::npos);

  const auto unsupported = Tokenizer::from_json(minimal_json(R"({"type": "Nmt"})"), {77, "[PAD]"});
  ASSERT_FALSE(unsupported.ok());
  EXPECT_NE(unsupported.error().message.find("Nmt"), std::string::npos);

  const auto bad_regex = Tokenizer::from_json(
      minimal_json(R"({"type": "Replace", "pattern": {"Regex": "("}, "content": ""})"), {77, "[PAD]"});
  EXPECT_FALSE(bad_regex.ok());

  const std::string bert = R"({"type": "BertProcessing", "sep": ["[UNK]", 0], "cls": ["[UNK]", 0]})";
  EXPECT_FALSE(
      Tokenizer::from_json(minimal_json("null", bert), {1, "[PAD]"}).ok());  // no room for [CLS] [SEP]
  EXPECT_TRUE(Tokenizer::from_json(minimal_json("null", bert), {2, "[PAD]"}).ok());
  EXPECT_FALSE(Tokenizer::from_json(minimal_json(), {0, "[PAD]"}).ok());
}

TEST(TokenizerEncode, FixedLengthWithMask) {
  const auto tok = Tokenizer::from_json(minimal_json(), {5, "[PAD]"});
  ASSERT_TRUE(tok.ok());
  const Encoding enc = tok->encode("a  b a");
  EXPECT_EQ(enc.ids, (std::vector<std::int32_t>{2, 0, 2, 1, 1}));  // b is unknown
  EXPECT_EQ(enc.attention_mask, (std::vector<std::int32_t>{1, 1, 1, 0, 0}));
  EXPECT_EQ(tok->encode("a a a a a a a").ids, (std::vector<std::int32_t>{2, 2, 2, 2, 2}));
  EXPECT_EQ(tok->encode("").ids, (std::vector<std::int32_t>{1, 1, 1, 1, 1}));
}

TEST(TokenizerEncode, ClipTruncationKeepsEndOfText) {
  auto tok =
      Tokenizer::from_file(kModels + "/clip/ViT-B-32__openai/textual/tokenizer.json", {77, "<|endoftext|>"});
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->context_length(), 77);
  std::string long_text;
  for (int i = 0; i < 200; ++i) long_text += "a photo of a dog ";
  const Encoding enc = tok->encode(long_text);
  ASSERT_EQ(enc.ids.size(), 77U);
  EXPECT_EQ(enc.ids.front(), 2512);  // <|startoftext|>
  EXPECT_EQ(enc.ids.back(), 2513);   // <|endoftext|>, kept by the truncation
  EXPECT_EQ(enc.attention_mask, std::vector<std::int32_t>(77, 1));

  const Encoding empty = tok->encode("");
  EXPECT_EQ((std::vector<std::int32_t>{empty.ids[0], empty.ids[1], empty.ids[2]}),
            (std::vector<std::int32_t>{2512, 2513, 2513}));  // pad token is <|endoftext|>
  EXPECT_EQ(empty.attention_mask[1], 1);
  EXPECT_EQ(empty.attention_mask[2], 0);
}

TEST(TokenizerEncode, InvalidUtf8MatchesReplacementCharacter) {
  auto tok =
      Tokenizer::from_file(kModels + "/clip/ViT-B-32__openai/textual/tokenizer.json", {77, "<|endoftext|>"});
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->encode("caf\xc3 \xff\xfe").ids, tok->encode("caf\ufffd \ufffd\ufffd").ids);
  EXPECT_EQ(tok->encode(std::string("a\0b", 3)).ids.size(), 77U);
}

TEST(TokenizerEncode, ConcurrentCallsAgree) {
  auto tok = Tokenizer::from_file(kModels + "/clip/XLM-Roberta-Large-Vit-B-32/textual/tokenizer.json",
                                  {77, "<pad>"});
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const std::vector<std::string> texts = {"a dog playing in the snow",
                                          "Ein Hund spielt im Schnee",
                                          "雪の中で遊ぶ犬",
                                          "كلب يلعب في الثلج",
                                          "🐶❄️",
                                          "<s>x</s>"};
  std::vector<Encoding> expected;
  for (const auto& t : texts) expected.push_back(tok->encode(t));
  const Tokenizer shared = *tok;  // copies share the loaded pipeline
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < failures.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        for (std::size_t i = 0; i < texts.size(); ++i) {
          failures[t] += shared.encode(texts[i]).ids != expected[i].ids;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

// Any bytes, valid UTF-8 or not: always exactly context_length ids, never a crash (run under ASan in CI).
TEST(TokenizerEncode, RandomBytesKeepTheContract) {
  const std::vector<std::pair<std::string, TokenizerOptions>> models = {
      {"ViT-B-32__openai", {77, "<|endoftext|>"}},
      {"XLM-Roberta-Large-Vit-B-32", {77, "<pad>"}},
      {"ViT-B-16-SigLIP__webli", {64, "</s>"}},
  };
  std::mt19937 rng(1234);
  for (const auto& [name, options] : models) {
    auto tok = Tokenizer::from_file(kModels + "/clip/" + name + "/textual/tokenizer.json", options);
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    for (int i = 0; i < 500; ++i) {
      std::string bytes(rng() % 200, '\0');
      for (char& c : bytes) c = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : 0x20 + rng() % 0x60);
      const Encoding enc = tok->encode(bytes);
      ASSERT_EQ(enc.ids.size(), static_cast<std::size_t>(options.context_length));
      ASSERT_EQ(enc.attention_mask.size(), enc.ids.size());
    }
  }
}

}  // namespace
}  // namespace focal
