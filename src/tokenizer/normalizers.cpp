// SPDX-License-Identifier: AGPL-3.0-or-later
// Normalizers: NFC/NFD/NFKC/NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, BertNormalizer,
// Precompiled and Sequence.
#include <array>
#include <cstdint>

#include "tokenizer/components.h"
#include "tokenizer/regex.h"

namespace focal::tok {
namespace {

using nlohmann::json;

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void normalize(NormalizedString& text) const override {
    for (const auto& part : parts_) part->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
  void normalize(NormalizedString& text) const override { text.normalize(form_); }

 private:
  NormalForm form_;
};

class Lowercase final : public Normalizer {
 public:
  void normalize(NormalizedString& text) const override { text.lowercase(); }
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(NormalizedString& text) const override {
    if (left_ && right_) {
      text.strip(true, true);
      return;
    }
    if (left_) text.strip(true, false);
    if (right_) text.strip(false, true);
  }

 private:
  bool left_;
  bool right_;
};

class StripAccents final : public Normalizer {
 public:
  void normalize(NormalizedString& text) const override {
    text.filter([](char32_t c) { return !is_combining_mark_v9(c); });
  }
};

class Replace final : public Normalizer {
 public:
  Replace(Regex pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(NormalizedString& text) const override {
    text.replace(pattern_.find_matches(text.get()), content_);
  }

 private:
  Regex pattern_;
  std::string content_;
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(NormalizedString& text) const override {
    if (!text.empty()) text.prepend(prefix_);
  }

 private:
  std::string prefix_;
};

class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool handle_chinese_chars, bool strip_accents, bool lowercase)
      : clean_text_(clean_text),
        handle_chinese_chars_(handle_chinese_chars),
        strip_accents_(strip_accents),
        lowercase_(lowercase) {}

  void normalize(NormalizedString& text) const override {
    if (clean_text_) {
      text.filter([](char32_t c) {
        return c != 0 && c != 0xFFFD && (c == '\t' || c == '\n' || c == '\r' || !is_bert_control(c));
      });
      text.map([](char32_t c) { return c == '\t' || c == '\n' || c == '\r' || is_whitespace(c) ? U' ' : c; });
    }
    if (handle_chinese_chars_) {
      std::vector<Change> dest;
      for (const char32_t c : to_utf32(text.get())) {
        if (is_chinese_char(c)) {
          dest.insert(dest.end(), {{U' ', 0}, {c, 1}, {U' ', 1}});
        } else {
          dest.push_back({c, 0});
        }
      }
      text.transform(dest, 0);
    }
    if (strip_accents_) {
      text.normalize(NormalForm::kNfd);
      text.filter([](char32_t c) { return !is_nonspacing_mark_v8(c); });
    }
    if (lowercase_) text.lowercase();
  }

 private:
  bool clean_text_;
  bool handle_chinese_chars_;
  bool strip_accents_;
  bool lowercase_;
};

// SentencePiece's compiled normalisation rules: [u32 trie size][Darts-clone double-array trie][NUL-separated
// replacement strings]. Applied as `tokenizers` does (spm_precompiled crate): per grapheme cluster, or per
// character for clusters of 6 bytes or more.
class Precompiled final : public Normalizer {
 public:
  static Expected<std::unique_ptr<Normalizer>> create(std::string_view base64) {
    const std::optional<std::string> blob = decode_base64(base64);
    if (!blob || blob->size() < 4) {
      return Error{ErrorKind::kInternal, "invalid Precompiled precompiled_charsmap"};
    }
    const std::uint32_t trie_bytes = read_u32(*blob, 0);
    if (trie_bytes > blob->size() - 4) return Error{ErrorKind::kInternal, "invalid Precompiled trie size"};
    auto out = std::make_unique<Precompiled>();
    for (std::size_t i = 0; i + 4 <= trie_bytes; i += 4) out->trie_.push_back(read_u32(*blob, 4 + i));
    out->replacements_ = blob->substr(4 + trie_bytes);
    if (out->trie_.empty() || sanitize_utf8(out->replacements_) != out->replacements_) {
      return Error{ErrorKind::kInternal, "invalid Precompiled charsmap"};
    }
    return std::unique_ptr<Normalizer>(std::move(out));
  }

  void normalize(NormalizedString& text) const override {
    const std::string& s = text.get();
    std::vector<Change> dest;
    bool modified = false;
    const std::vector<std::size_t> bounds = grapheme_boundaries(s);
    for (std::size_t g = 0; g + 1 < bounds.size(); ++g) {
      const std::string_view grapheme = std::string_view(s).substr(bounds[g], bounds[g + 1] - bounds[g]);
      if (grapheme.size() < 6) {
        if (const auto norm = transform(grapheme)) {
          modified = true;
          replace(dest, grapheme, *norm);
          continue;
        }
      }
      for (std::size_t pos = 0; pos < grapheme.size();) {
        const std::size_t start = pos;
        const char32_t c = next_char(grapheme, pos);
        if (const auto norm = transform(grapheme.substr(start, pos - start))) {
          modified = true;
          replace(dest, grapheme.substr(start, pos - start), *norm);
        } else {
          dest.push_back({c, 0});
        }
      }
    }
    if (modified) text.transform(dest, 0);
  }

 private:
  static std::uint32_t read_u32(const std::string& s, std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      v |= static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + k])) << (8 * k);
    }
    return v;
  }

  static std::optional<std::string> decode_base64(std::string_view in) {
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : in) {
      int v = -1;
      if (c >= 'A' && c <= 'Z') v = c - 'A';
      if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
      if (c >= '0' && c <= '9') v = c - '0' + 52;
      if (c == '+') v = 62;
      if (c == '/') v = 63;
      if (c == '=') break;
      if (v < 0) return std::nullopt;
      acc = (acc << 6) | static_cast<std::uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push_back(static_cast<char>((acc >> bits) & 0xFFU));
      }
    }
    return out;
  }

  // Darts-clone common prefix search; like the crate, only the first (shortest) match is used, even when it
  // covers only part of the chunk.
  std::optional<std::string_view> transform(std::string_view chunk) const {
    const auto offset = [](std::uint64_t unit) { return (unit >> 10) << ((unit & (1U << 9)) >> 6); };
    std::uint64_t node = offset(trie_[0]);
    for (const char ch : chunk) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == 0) break;
      node ^= c;
      if (node >= trie_.size()) return std::nullopt;
      const std::uint64_t unit = trie_[node];
      if ((unit & ((1U << 31) | 0xFFU)) != c) return std::nullopt;
      node ^= offset(unit);
      if (node >= trie_.size()) return std::nullopt;
      if (((unit >> 8) & 1U) != 0) {
        const std::size_t start = trie_[node] & ((1U << 31) - 1);
        if (start > replacements_.size()) return std::nullopt;
        const std::size_t end = replacements_.find('\0', start);
        const std::string_view norm = std::string_view(replacements_).substr(start, end - start);
        if (sanitize_utf8(norm) != norm) return std::nullopt;  // not on a character boundary
        return norm;
      }
    }
    return std::nullopt;
  }

  // The crate's change bookkeeping: a longer replacement inserts its extra characters at the end, a shorter
  // one marks the removal on the last change so far (which may belong to an earlier cluster).
  static void replace(std::vector<Change>& dest, std::string_view old_part, std::string_view new_part) {
    const std::u32string chars = to_utf32(new_part);
    const long diff = static_cast<long>(chars.size()) - static_cast<long>(to_utf32(old_part).size());
    for (const char32_t c : chars) dest.push_back({c, 0});
    if (diff > 0) {
      for (long k = 0; k < diff; ++k) dest[dest.size() - 1 - static_cast<std::size_t>(k)].delta = 1;
    } else if (diff < 0 && !dest.empty()) {
      dest.back().delta += diff;
    }
  }

  std::vector<std::uint32_t> trie_;
  std::string replacements_;
};

}  // namespace

Expected<Regex> make_pattern(const json& pattern) {
  if (pattern.contains("Regex")) return Regex::compile(pattern.at("Regex").get<std::string>());
  return Regex::literal(pattern.at("String").get<std::string>());
}

Expected<std::unique_ptr<Normalizer>> make_normalizer(const json& j) {
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (const json& part : j.at("normalizers")) {
      auto made = make_normalizer(part);
      if (!made) return std::move(made).error();
      parts.push_back(std::move(*made));
    }
    return std::unique_ptr<Normalizer>(std::make_unique<SequenceNormalizer>(std::move(parts)));
  }
  static constexpr std::array<std::pair<std::string_view, NormalForm>, 4> kForms = {
      {{"NFC", NormalForm::kNfc},
       {"NFD", NormalForm::kNfd},
       {"NFKC", NormalForm::kNfkc},
       {"NFKD", NormalForm::kNfkd}}};
  for (const auto& [name, form] : kForms) {
    if (type == name) return std::unique_ptr<Normalizer>(std::make_unique<UnicodeNormalizer>(form));
  }
  if (type == "Lowercase") return std::unique_ptr<Normalizer>(std::make_unique<Lowercase>());
  if (type == "StripAccents") return std::unique_ptr<Normalizer>(std::make_unique<StripAccents>());
  if (type == "Strip") {
    return std::unique_ptr<Normalizer>(
        std::make_unique<Strip>(flag(j, "strip_left", true), flag(j, "strip_right", true)));
  }
  if (type == "Replace") {
    auto pattern = make_pattern(j.at("pattern"));
    if (!pattern) return std::move(pattern).error();
    return std::unique_ptr<Normalizer>(
        std::make_unique<Replace>(std::move(*pattern), j.at("content").get<std::string>()));
  }
  if (type == "Prepend") {
    return std::unique_ptr<Normalizer>(std::make_unique<Prepend>(j.at("prepend").get<std::string>()));
  }
  if (type == "BertNormalizer") {
    const bool lowercase = flag(j, "lowercase", true);
    const json& strip = j.contains("strip_accents") ? j.at("strip_accents") : json();
    return std::unique_ptr<Normalizer>(
        std::make_unique<BertNormalizer>(flag(j, "clean_text", true), flag(j, "handle_chinese_chars", true),
                                         strip.is_null() ? lowercase : strip.get<bool>(), lowercase));
  }
  if (type == "Precompiled") {
    return Precompiled::create(j.at("precompiled_charsmap").get<std::string>());
  }
  return Error{ErrorKind::kNotImplemented, "unsupported normalizer type '" + type + "'"};
}

}  // namespace focal::tok
