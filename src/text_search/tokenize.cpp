// SPDX-License-Identifier: AGPL-3.0-or-later
#include "text_search/tokenize.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <set>

namespace focal::text_search {
namespace {

bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2FA1F) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) ||
         (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x1100 && c <= 0x11FF) || (c >= 0x3130 && c <= 0x318F);
}

std::u32string decode(std::string_view utf8) {
  const auto text =
      icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  std::u32string out;
  for (int32_t i = 0; i < text.length(); i = text.moveIndex32(i, 1))
    out.push_back(static_cast<char32_t>(text.char32At(i)));
  return out;
}

std::string encode(const std::u32string& text) {
  icu::UnicodeString u;
  for (const char32_t c : text) u.append(static_cast<UChar32>(c));
  std::string out;
  u.toUTF8String(out);
  return out;
}

using Trigram = std::u32string;

void add_word_trigrams(const std::u32string& word, std::set<Trigram>& out) {
  const std::u32string padded = U"  " + word + U" ";
  for (std::size_t i = 0; i + 3 <= padded.size(); ++i) out.insert(padded.substr(i, 3));
}

}  // namespace

std::string tokenize(std::string_view utf8) {
  const std::u32string text = decode(utf8);
  std::vector<std::u32string> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] <= 32) {
      ++i;
      continue;
    }
    const bool cjk = is_cjk(text[i]);
    std::size_t end = i;
    while (end < text.size() && text[end] > 32 && is_cjk(text[end]) == cjk) ++end;
    if (!cjk || end - i == 1) {
      tokens.push_back(text.substr(i, end - i));
    } else {
      for (std::size_t k = i; k + 1 < end; ++k) tokens.push_back(text.substr(k, 2));
    }
    i = end;
  }
  std::string out;
  for (const auto& token : tokens) {
    if (!out.empty()) out += ' ';
    out += encode(token);
  }
  return out;
}

std::string fold(std::string_view utf8) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  auto text = icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  if (U_FAILURE(status)) return std::string(utf8);
  icu::UnicodeString decomposed = nfd->normalize(text, status);
  icu::UnicodeString stripped;
  for (int32_t i = 0; i < decomposed.length(); i = decomposed.moveIndex32(i, 1)) {
    const UChar32 c = decomposed.char32At(i);
    if (u_charType(c) != U_NON_SPACING_MARK) stripped.append(c);
  }
  icu::UnicodeString composed = nfc->normalize(stripped, status);
  if (U_FAILURE(status)) return std::string(utf8);
  composed.toLower();
  std::string out;
  composed.toUTF8String(out);
  return out;
}

std::vector<std::u32string> words(std::string_view folded) {
  std::vector<std::u32string> out;
  std::u32string current;
  for (const char32_t c : decode(folded)) {
    if (u_isalnum(static_cast<UChar32>(c)) != 0) {
      current.push_back(c);
    } else if (!current.empty()) {
      out.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

double strict_word_similarity(std::string_view query, std::string_view document) {
  std::set<Trigram> wanted;
  for (const auto& w : words(query)) add_word_trigrams(w, wanted);
  const auto doc = words(document);
  if (wanted.empty() || doc.empty()) return 0.0;
  const auto u1 = static_cast<double>(wanted.size());
  std::vector<std::set<Trigram>> per_word(doc.size());
  for (std::size_t i = 0; i < doc.size(); ++i) add_word_trigrams(doc[i], per_word[i]);
  double best = 0.0;
  for (std::size_t first = 0; first < doc.size(); ++first) {
    std::set<Trigram> extent;
    for (std::size_t last = first; last < doc.size(); ++last) {
      extent.insert(per_word[last].begin(), per_word[last].end());
      const auto u2 = static_cast<double>(extent.size());
      const auto shared = static_cast<double>(
          std::count_if(wanted.begin(), wanted.end(), [&](const Trigram& t) { return extent.contains(t); }));
      best = std::max(best, shared / (u1 + u2 - shared));
      // A longer run has at least u2 trigrams, so at best u1 / u2 (all of the query shared): stop once that
      // cannot beat what was found.
      if (u1 / u2 <= best) break;
    }
  }
  return best;
}

std::vector<std::string> utf8_words(std::string_view folded) {
  std::vector<std::string> out;
  for (const std::u32string& word : words(folded)) out.push_back(encode(word));
  return out;
}

}  // namespace focal::text_search
