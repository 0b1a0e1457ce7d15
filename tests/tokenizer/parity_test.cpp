// SPDX-License-Identifier: AGPL-3.0-or-later
// Token-id parity with the Python `tokenizers` library, configured as Immich configures it.
//
// For each family, tools/tokenizer_parity.py builds the tokenizer.json (or takes a generated test model's)
// and writes the reference ids for the stress corpus of tools/tokenizer_corpus.py; every string must then
// encode to exactly the same ids and attention mask here. Families whose inputs cannot be had (the real CLIP
// vocabulary needs PyPI) are skipped.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace focal {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string> kFamilies = {
    "clip",
    "clip-immich",
    "xlmr",
    "xlmr-immich",
    "siglip",
    "siglip-immich",
    "clip-openai-vocab",
    "labse-wordpiece",
    "gemma-bpe",
    "llama-metaspace-first",
    "llama3-bytelevel",
    "nllb-precompiled",
    "xlmr-precompiled",
    "t5-precompiled",
    "mixed-wordpiece",
    "mixed-bpe",
    "mixed-unigram",
};

const fs::path kPython = FOCAL_SOURCE_DIR "/.venv/bin/python";
const fs::path kScript = FOCAL_SOURCE_DIR "/tools/tokenizer_parity.py";
const fs::path kOut = FOCAL_BINARY_DIR "/tokenizer-parity";

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// A readable rendering of a test string for failure messages (JSON escapes, invalid bytes as \xNN).
std::string show(const std::string& bytes) {
  std::string out;
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7F) {
      out += c;
    } else {
      std::ostringstream hex;
      hex << "\\x" << std::hex << static_cast<int>(b);
      out += hex.str();
    }
  }
  return out.size() > 160 ? out.substr(0, 160) + "..." : out;
}

std::string ids_text(const std::vector<std::int32_t>& ids) {
  std::string out;
  for (const std::int32_t id : ids) out += (out.empty() ? "" : " ") + std::to_string(id);
  return out;
}

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, IdsAndMaskMatchPythonTokenizers) {
  const std::string family = GetParam();
  // FOCAL_TOKENIZER_PARITY_ARGS (e.g. "--count 20000 --seed 3") turns this into a stress run.
  const char* extra = std::getenv("FOCAL_TOKENIZER_PARITY_ARGS");
  const std::string cmd = quoted(kPython) + " " + quoted(kScript) + " --models " + quoted(FOCAL_TEST_MODELS) +
                          " --out " + quoted(kOut) + " --family " + family + " " +
                          (extra != nullptr ? extra : "");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "reference generation failed: " << cmd;
  std::ifstream in(kOut / family / "expected.json");
  ASSERT_TRUE(in) << "no expected.json for " << family;
  const json expected = json::parse(in);
  if (expected.contains("skipped")) GTEST_SKIP() << expected.at("skipped").get<std::string>();

  const std::string clean = expected.at("clean").get<std::string>();
  auto tokenizer = Tokenizer::from_file(
      expected.at("tokenizer").get<std::string>(),
      {expected.at("context_length").get<int>(), expected.at("pad_token").get<std::string>()});
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message;

  std::size_t compared = 0;
  std::size_t mismatches = 0;
  for (const json& c : expected.at("cases")) {
    const std::string input = from_hex(c.at("input_hex").get<std::string>());
    std::string text = input;
    bool ok = true;
    if (clean != "none") {
      text = clean_text(input, clean == "canonicalize");
      ok = text == c.at("cleaned").get<std::string>();
    }
    const Encoding enc = tokenizer->encode(text);
    const auto ids = c.at("ids").get<std::vector<std::int32_t>>();
    const auto mask = c.at("mask").get<std::vector<std::int32_t>>();
    ok = ok && enc.ids == ids && enc.attention_mask == mask;
    ++compared;
    if (!ok && ++mismatches <= 10) {
      ADD_FAILURE() << family << ": \"" << show(input) << "\"\n  expected " << ids_text(ids)
                    << "\n  actual   " << ids_text(enc.ids)
                    << (clean != "none" ? "\n  cleaned \"" + show(text) + "\"" : "");
    }
  }
  std::cout << "[parity] " << family << ": " << compared << " strings compared, " << compared - mismatches
            << " identical, " << mismatches << " mismatches\n";
  EXPECT_EQ(mismatches, 0U);
  EXPECT_GE(compared, 1000U);
}

INSTANTIATE_TEST_SUITE_P(Families, Parity, ::testing::ValuesIn(kFamilies),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

// The list above and the Python families must not drift apart.
TEST(ParityFamilies, MatchThePythonList) {
  const fs::path list = kOut / "families.txt";
  fs::create_directories(kOut);
  const std::string cmd = quoted(kPython) + " " + quoted(kScript) + " --list > " + quoted(list);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(list);
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) names.push_back(line);
  EXPECT_EQ(names, kFamilies);
}

}  // namespace
}  // namespace focal
