// SPDX-License-Identifier: AGPL-3.0-or-later
// The text rules of search by text in photos: Immich's OCR tokenizer, accent and case folding, and PostgreSQL
// pg_trgm's strict word similarity (the `%>>` operator Immich filters with), computed here because SQLite has
// no trigram similarity.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace focal::text_search {

// Immich's OCR tokenizer: split on characters with code <= 32; inside a piece, runs of CJK characters (Han,
// Hiragana, Katakana, Hangul) become overlapping two-character bigrams (a lone CJK character stays), other runs
// stay whole. Tokens joined by single spaces.
std::string tokenize(std::string_view utf8);

// Accent- and case-insensitive form (canonical decomposition, combining marks removed, lower case), like
// PostgreSQL's unaccent followed by pg_trgm's lower-casing. Invalid UTF-8 is replaced, never an error.
std::string fold(std::string_view utf8);

// pg_trgm's words of a folded text: maximal runs of letters and digits.
std::vector<std::u32string> words(std::string_view folded);
// The same words as UTF-8.
std::vector<std::string> utf8_words(std::string_view folded);

// pg_trgm strict_word_similarity(query, document): the best Jaccard similarity of the query's trigram set with
// the trigrams of any run of whole consecutive words of the document (words padded with two spaces before and
// one after). Both arguments folded. Returns 0 when either has no words.
double strict_word_similarity(std::string_view query, std::string_view document);

}  // namespace focal::text_search
