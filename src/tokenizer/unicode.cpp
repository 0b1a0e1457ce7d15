// SPDX-License-Identifier: AGPL-3.0-or-later
#include "tokenizer/unicode.h"

#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utext.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>

namespace focal::tok {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

bool in(unsigned char b, unsigned char lo, unsigned char hi) { return b >= lo && b <= hi; }

// Whether `c` was assigned in Unicode `major`.0 or earlier (the Rust crates' table versions are all x.0).
bool assigned_by(char32_t c, std::uint8_t major) {
  UVersionInfo age;
  u_charAge(static_cast<UChar32>(c), age);
  return age[0] != 0 && age[0] <= major;
}

std::int8_t category(char32_t c) { return u_charType(static_cast<UChar32>(c)); }

bool has_property(char32_t c, UProperty p) { return u_hasBinaryProperty(static_cast<UChar32>(c), p) != 0; }

std::u32string from_utf16(const UChar* s, std::int32_t n) {
  std::u32string out;
  for (std::int32_t i = 0; i < n; ++i) {
    char32_t c = s[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] < 0xE000) {
      c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
      ++i;
    }
    out.push_back(c);
  }
  return out;
}

std::u16string to_utf16(std::string_view text) {
  std::u16string out;
  for (const char32_t c : to_utf32(text)) {
    if (c >= 0x10000) {
      out.push_back(static_cast<char16_t>(0xD800 + ((c - 0x10000) >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + ((c - 0x10000) & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(c));
    }
  }
  return out;
}

// ---- Unicode 9 normalisation (the unicode-normalization-alignments crate, with ICU's data) ----------------
constexpr std::uint8_t kNormalizationVersion = 9;

std::uint8_t combining_class(char32_t c) {
  return assigned_by(c, kNormalizationVersion) ? u_getCombiningClass(static_cast<UChar32>(c)) : 0;
}

void decompose_into(char32_t c, bool compat, std::vector<Change>& out) {
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* norm = compat ? unorm2_getNFKDInstance(&err) : unorm2_getNFDInstance(&err);
  std::array<UChar, 64> buf{};
  std::int32_t n = -1;
  if (U_SUCCESS(err) && assigned_by(c, kNormalizationVersion)) {
    n = unorm2_getDecomposition(norm, static_cast<UChar32>(c), buf.data(), buf.size(), &err);
  }
  if (n < 0 || U_FAILURE(err)) {
    out.push_back({c, 0});
    return;
  }
  long delta = 0;  // the first character of a decomposition replaces the source, the others are inserted
  for (const char32_t d : from_utf16(buf.data(), n)) {
    out.push_back({d, delta});
    delta = 1;
  }
}

std::optional<char32_t> compose(char32_t a, char32_t b) {
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&err);
  if (U_FAILURE(err) || !assigned_by(a, kNormalizationVersion) || !assigned_by(b, kNormalizationVersion)) {
    return std::nullopt;
  }
  const UChar32 r = unorm2_composePair(nfc, static_cast<UChar32>(a), static_cast<UChar32>(b));
  if (r < 0 || !assigned_by(static_cast<char32_t>(r), kNormalizationVersion)) return std::nullopt;
  return static_cast<char32_t>(r);
}

std::vector<Change> decompose(std::string_view text, bool compat) {
  std::vector<Change> out;
  for (std::size_t pos = 0; pos < text.size();) decompose_into(next_char(text, pos), compat, out);
  // Canonical ordering: a stable sort of every run of non-starters by combining class.
  for (std::size_t i = 0; i < out.size();) {
    if (combining_class(out[i].c) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < out.size() && combining_class(out[j].c) != 0) ++j;
    std::stable_sort(
        out.begin() + static_cast<std::ptrdiff_t>(i), out.begin() + static_cast<std::ptrdiff_t>(j),
        [](const Change& x, const Change& y) { return combining_class(x.c) < combining_class(y.c); });
    i = j;
  }
  return out;
}

// The crate's Recompositions iterator, step for step: its order of output and its change arithmetic decide
// the alignments.
std::vector<Change> recompose(const std::vector<Change>& decomposed) {
  std::vector<Change> out;
  std::optional<Change> composee;
  int last_ccc = -1;  // class of the last blocked character, -1 if none
  std::vector<Change> buffer;
  for (const Change& ch : decomposed) {
    const std::uint8_t ch_class = combining_class(ch.c);
    if (!composee) {
      if (ch_class != 0) {
        out.push_back(ch);
      } else {
        composee = ch;
      }
      continue;
    }
    const Change k = *composee;
    if (last_ccc < ch_class) {
      if (const auto r = compose(k.c, ch.c)) {
        composee = Change{*r, k.delta + ch.delta - 1};
        continue;
      }
    }
    if (ch_class == 0) {  // a starter that does not compose ends the run
      composee = ch;
      last_ccc = -1;
      out.push_back(k);
      out.insert(out.end(), buffer.begin(), buffer.end());
      buffer.clear();
      continue;
    }
    buffer.push_back(ch);
    last_ccc = ch_class;
  }
  if (composee) out.push_back(*composee);
  out.insert(out.end(), buffer.begin(), buffer.end());
  return out;
}

}  // namespace

// ---- UTF-8 ------------------------------------------------------------------------------------------------
std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    // Sequence length and the allowed range of the second byte (Unicode Table 3-7, well-formed UTF-8).
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (in(b, 0xC2, 0xDF)) {
      len = 2;
    } else if (in(b, 0xE0, 0xEF)) {
      len = 3;
      lo = b == 0xE0 ? 0xA0 : 0x80;
      hi = b == 0xED ? 0x9F : 0xBF;
    } else if (in(b, 0xF0, 0xF4)) {
      len = 4;
      lo = b == 0xF0 ? 0x90 : 0x80;
      hi = b == 0xF4 ? 0x8F : 0xBF;
    }
    std::size_t j = i + 1;
    while (len != 0 && j < i + len && j < bytes.size() &&
           in(static_cast<unsigned char>(bytes[j]), j == i + 1 ? lo : 0x80, j == i + 1 ? hi : 0xBF)) {
      ++j;
    }
    if (len != 0 && j == i + len) {
      out.append(bytes.substr(i, len));
    } else {
      append_utf8(out, kReplacement);  // one replacement per maximal subpart (at least the lead byte)
    }
    i = j;
  }
  return out;
}

char32_t next_char(std::string_view text, std::size_t& pos) {
  const auto b = static_cast<unsigned char>(text[pos]);
  std::size_t len = 1;
  char32_t c = b;
  if (b >= 0xF0) {
    len = 4;
    c = b & 0x07U;
  } else if (b >= 0xE0) {
    len = 3;
    c = b & 0x0FU;
  } else if (b >= 0xC0) {
    len = 2;
    c = b & 0x1FU;
  }
  for (std::size_t k = 1; k < len && pos + k < text.size(); ++k) {
    c = (c << 6) | (static_cast<unsigned char>(text[pos + k]) & 0x3FU);
  }
  pos = std::min(pos + len, text.size());
  return c;
}

std::size_t utf8_length(char32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

void append_utf8(std::string& out, char32_t c) {
  const std::size_t len = utf8_length(c);
  if (len == 1) {
    out.push_back(static_cast<char>(c));
    return;
  }
  static constexpr std::array<unsigned, 5> kLead = {0, 0, 0xC0, 0xE0, 0xF0};
  out.push_back(static_cast<char>(kLead[len] | (c >> (6 * (len - 1)))));
  for (std::size_t k = len - 1; k > 0; --k) {
    out.push_back(static_cast<char>(0x80 | ((c >> (6 * (k - 1))) & 0x3F)));
  }
}

std::u32string to_utf32(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) out.push_back(next_char(text, pos));
  return out;
}

std::string to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char32_t c : text) append_utf8(out, c);
  return out;
}

// ---- character classes ------------------------------------------------------------------------------------
bool is_whitespace(char32_t c) { return has_property(c, UCHAR_WHITE_SPACE); }

bool is_python_space(char32_t c) {
  // str.isspace: bidi class WS, B or S, or category Zs. That is White_Space plus the four ASCII separators.
  return (c >= 0x1C && c <= 0x1F) || is_whitespace(c);
}

bool is_numeric(char32_t c) {
  const std::int8_t t = category(c);
  return t == U_DECIMAL_DIGIT_NUMBER || t == U_LETTER_NUMBER || t == U_OTHER_NUMBER;
}

bool is_regex_word(char32_t c) {
  const std::int8_t t = category(c);
  return has_property(c, UCHAR_ALPHABETIC) || t == U_NON_SPACING_MARK || t == U_COMBINING_SPACING_MARK ||
         t == U_ENCLOSING_MARK || t == U_DECIMAL_DIGIT_NUMBER || t == U_CONNECTOR_PUNCTUATION ||
         has_property(c, UCHAR_JOIN_CONTROL);
}

// A few characters changed General_Category after Unicode 8/9; the crates keep the old values. This is the
// complete list, found by comparing these functions with the crates' tables (unicode_categories 0.1.1,
// unicode-normalization-alignments 0.1.12) over every code point.
constexpr char32_t kSharadaSandhiMark = 0x111C9;  // Po until Unicode 11, Mn since

bool is_bert_punctuation(char32_t c) {
  if (c == 0x166D || c == kSharadaSandhiMark) return true;  // Po in Unicode 8, So and Mn now
  if (c < 0x80) {                                           // char::is_ascii_punctuation
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
  }
  if (!assigned_by(c, 8)) return false;
  const std::int8_t t = category(c);
  return t == U_CONNECTOR_PUNCTUATION || t == U_DASH_PUNCTUATION || t == U_START_PUNCTUATION ||
         t == U_END_PUNCTUATION || t == U_INITIAL_PUNCTUATION || t == U_FINAL_PUNCTUATION ||
         t == U_OTHER_PUNCTUATION;
}

bool is_bert_control(char32_t c) {
  const std::int8_t t = category(c);
  return assigned_by(c, 8) && (t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_PRIVATE_USE_CHAR);
}

bool is_nonspacing_mark_v8(char32_t c) {
  if (c == 0x1734) return true;  // Mn in Unicode 8, Mc now
  if (c == 0x1885 || c == 0x1886 || c == 0xA9BD || c == kSharadaSandhiMark) return false;  // Lo, Lo, Mc, Po
  return assigned_by(c, 8) && category(c) == U_NON_SPACING_MARK;
}

bool is_combining_mark_v9(char32_t c) {
  if (c == 0x1CF2 || c == 0x1CF3) return true;  // Mc in Unicode 9, Lo now
  if (c == kSharadaSandhiMark) return false;
  const std::int8_t t = category(c);
  return assigned_by(c, kNormalizationVersion) &&
         (t == U_NON_SPACING_MARK || t == U_COMBINING_SPACING_MARK || t == U_ENCLOSING_MARK);
}

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::u32string to_lower(char32_t c) {
  // U+0130 is the only character with an unconditional lower-case mapping (SpecialCasing.txt) of two.
  if (c == 0x130) return U"i\u0307";
  return std::u32string(1, static_cast<char32_t>(u_tolower(static_cast<UChar32>(c))));
}

std::string python_lower(std::string_view text) {
  const std::u16string src = to_utf16(text);
  std::u16string dst(src.size() + 8, u'\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    UErrorCode err = U_ZERO_ERROR;
    const std::int32_t n = u_strToLower(dst.data(), static_cast<std::int32_t>(dst.size()), src.data(),
                                        static_cast<std::int32_t>(src.size()), "", &err);
    if (U_SUCCESS(err)) return to_utf8(from_utf16(dst.data(), n));
    if (err != U_BUFFER_OVERFLOW_ERROR) break;
    dst.resize(static_cast<std::size_t>(n) + 1);  // ICU reported the size it needs
  }
  return std::string(text);
}

// ---- normalisation ----------------------------------------------------------------------------------------
std::vector<Change> normalize(std::string_view text, NormalForm form) {
  const bool compat = form == NormalForm::kNfkd || form == NormalForm::kNfkc;
  std::vector<Change> decomposed = decompose(text, compat);
  if (form == NormalForm::kNfd || form == NormalForm::kNfkd) return decomposed;
  return recompose(decomposed);
}

std::vector<std::size_t> grapheme_boundaries(std::string_view text) {
  struct Closer {
    void operator()(UBreakIterator* it) const { ubrk_close(it); }
  };
  thread_local const std::unique_ptr<UBreakIterator, Closer> iterator = [] {
    UErrorCode err = U_ZERO_ERROR;
    return std::unique_ptr<UBreakIterator, Closer>(ubrk_open(UBRK_CHARACTER, "", nullptr, 0, &err));
  }();
  std::vector<std::size_t> out;
  UErrorCode err = U_ZERO_ERROR;
  UText* utext = utext_openUTF8(nullptr, text.data(), static_cast<std::int64_t>(text.size()), &err);
  if (iterator && U_SUCCESS(err)) ubrk_setUText(iterator.get(), utext, &err);
  if (iterator && U_SUCCESS(err)) {
    for (std::int32_t b = ubrk_first(iterator.get()); b != UBRK_DONE; b = ubrk_next(iterator.get())) {
      out.push_back(static_cast<std::size_t>(b));
    }
  } else {  // no break data: fall back to one cluster per code point
    for (std::size_t pos = 0; pos < text.size(); next_char(text, pos)) out.push_back(pos);
    out.push_back(text.size());
  }
  utext_close(utext);
  return out;
}

}  // namespace focal::tok
