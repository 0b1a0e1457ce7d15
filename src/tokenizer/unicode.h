// SPDX-License-Identifier: AGPL-3.0-or-later
// UTF-8 helpers and the character properties the Hugging Face `tokenizers` pipeline relies on.
//
// `tokenizers` (Rust) takes its Unicode data from several crates of different ages, and token ids depend on
// them: NFx normalisation and combining marks from Unicode 9 tables, Bert/Punctuation categories from Unicode
// 8 tables, everything else from the Rust standard library. All data here comes from ICU; where the Rust
// crates are older, characters assigned after their Unicode version are treated as unassigned, as those
// crates do.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace focal::tok {

// ---- UTF-8 ------------------------------------------------------------------------------------------------
// Replaces every maximal invalid subpart with U+FFFD, exactly like Python's bytes.decode("utf-8", "replace"),
// so raw bytes tokenize as the Python reference tokenizes the decoded str.
std::string sanitize_utf8(std::string_view bytes);

// Decodes the code point at `pos` of valid UTF-8 and advances `pos` past it.
char32_t next_char(std::string_view text, std::size_t& pos);
void append_utf8(std::string& out, char32_t c);
std::size_t utf8_length(char32_t c);
std::u32string to_utf32(std::string_view text);
std::string to_utf8(std::u32string_view text);

// ---- character classes ------------------------------------------------------------------------------------
bool is_whitespace(char32_t c);        // Rust char::is_whitespace (White_Space)
bool is_python_space(char32_t c);      // Python str.isspace, used by Immich's clean_text
bool is_numeric(char32_t c);           // Rust char::is_numeric (Nd, Nl, No)
bool is_regex_word(char32_t c);        // `\w` of the Rust regex crate
bool is_bert_punctuation(char32_t c);  // ASCII punctuation or P* (Unicode 8): Bert/Punctuation pre-tokenizers
bool is_bert_control(char32_t c);      // Cc, Cf, Co (Unicode 8): BertNormalizer's clean_text
bool is_nonspacing_mark_v8(char32_t c);  // Mn (Unicode 8): BertNormalizer's strip_accents
bool is_combining_mark_v9(char32_t c);   // M* (Unicode 9): StripAccents
bool is_chinese_char(char32_t c);        // BertNormalizer's CJK ranges

// Full lower-case mapping of one character without context (Rust char::to_lowercase).
std::u32string to_lower(char32_t c);
// Python str.lower() of a whole string: full mappings with the Final_Sigma context.
std::string python_lower(std::string_view text);

// ---- normalisation
// -------------------------------------------------------------------------------------------------- One
// output character of a transformation and how it relates to the input, as `tokenizers` records it for its
// alignments: 0 replaces an input character, 1 is inserted, -n replaces one and removes the n that follow.
struct Change {
  char32_t c;
  long delta;
};

enum class NormalForm { kNfd, kNfkd, kNfc, kNfkc };

// Unicode 9 normalisation with the changes of the unicode-normalization-alignments crate.
std::vector<Change> normalize(std::string_view text, NormalForm form);

// Byte offsets of the extended grapheme cluster boundaries of `text`, including 0 and text.size().
std::vector<std::size_t> grapheme_boundaries(std::string_view text);

}  // namespace focal::tok
