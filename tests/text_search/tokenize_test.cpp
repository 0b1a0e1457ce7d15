// SPDX-License-Identifier: AGPL-3.0-or-later
#include "text_search/tokenize.h"

#include <gtest/gtest.h>

namespace focal::text_search {
namespace {

TEST(OcrTokenize, CjkRunsBecomeBigramsOtherRunsStayWhole) {
  EXPECT_EQ(tokenize("Hello  world\tagain"), "Hello world again");
  EXPECT_EQ(tokenize("\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97"),
            "\xe4\xb8\xad\xe6\x96\x87 \xe6\x96\x87\xe5\xad\x97");  // 中文字
  EXPECT_EQ(tokenize("\xe4\xb8\xad"), "\xe4\xb8\xad");             // a lone CJK character stays
  EXPECT_EQ(tokenize("abc\xe4\xb8\xad\xe6\x96\x87"
                     "def"),
            "abc \xe4\xb8\xad\xe6\x96\x87 def");
  EXPECT_EQ(tokenize(""), "");
  EXPECT_EQ(tokenize(" \n "), "");
}

TEST(OcrFold, AccentsAndCaseAreIgnored) {
  EXPECT_EQ(fold("Crème BRÛLÉE"), "creme brulee");
  EXPECT_EQ(fold("Ångström"), "angstrom");
  EXPECT_EQ(fold("\xff\xfe"), fold("\xff\xfe"));  // invalid UTF-8 never throws
}

TEST(OcrSimilarity, MatchesPgTrgmStrictWordSimilarity) {
  // pg_trgm: strict_word_similarity('word', 'two words') = 0.571429 ("word" vs the whole word "words").
  EXPECT_NEAR(strict_word_similarity("word", "two words"), 4.0 / 7.0, 1e-6);
  EXPECT_DOUBLE_EQ(strict_word_similarity("words", "two words"), 1.0);
  EXPECT_DOUBLE_EQ(strict_word_similarity("beer", "craft beer festival"), 1.0);
  // OCR noise: a plural against a singular passes 0.5 (8 shared of 11 trigrams); one letter wrong in the
  // middle of a 7-letter word does not (5 of 11), as in PostgreSQL; an unrelated word never does.
  EXPECT_NEAR(strict_word_similarity("festivals", "craft beer festival"), 8.0 / 11.0, 1e-9);
  EXPECT_NEAR(strict_word_similarity("dataset", "the datasct is"), 5.0 / 11.0, 1e-9);
  EXPECT_LT(strict_word_similarity("zebra", "craft beer festival"), 0.5);
  EXPECT_EQ(strict_word_similarity("", "abc"), 0.0);
  EXPECT_EQ(strict_word_similarity("abc", ""), 0.0);
  EXPECT_DOUBLE_EQ(strict_word_similarity("quick brown", "the quick brown fox"), 1.0);
}

}  // namespace
}  // namespace focal::text_search
