// SPDX-License-Identifier: AGPL-3.0-or-later
// Pre-tokenizers: Split, ByteLevel, Metaspace, Whitespace, WhitespaceSplit, BertPreTokenizer, Punctuation,
// Digits and Sequence.
#include <array>

#include "tokenizer/components.h"
#include "tokenizer/regex.h"

namespace focal::tok {
namespace {

using nlohmann::json;
using Pieces = std::vector<NormalizedString>;

// GPT-2's byte-to-unicode table: printable bytes map to themselves, the others to U+0100 onwards.
char32_t byte_to_char(unsigned char byte) {
  static const std::array<char32_t, 256> byte_table = [] {
    std::array<char32_t, 256> table{};
    char32_t next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      table[b] = printable ? b : next++;
    }
    return table;
  }();
  return byte_table[byte];
}

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts)
      : parts_(std::move(parts)) {}
  void pre_tokenize(std::vector<Split>& splits) const override {
    for (const auto& part : parts_) part->pre_tokenize(splits);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(Regex pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(std::vector<Split>& splits) const override {
    split_each(splits, [&](NormalizedString s) {
      Matches matches = pattern_.find_matches(s.get());
      return s.split(invert_ ? invert(std::move(matches)) : matches, behavior_);
    });
  }

 private:
  Regex pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

// Splits on a character class (WhitespaceSplit, BertPreTokenizer, Punctuation, Digits).
class CharSplitPreTokenizer final : public PreTokenizer {
 public:
  CharSplitPreTokenizer(bool (*pred)(char32_t), SplitBehavior behavior) : pred_(pred), behavior_(behavior) {}
  void pre_tokenize(std::vector<Split>& splits) const override {
    split_each(splits,
               [&](NormalizedString s) { return s.split(find_char_matches(s.get(), pred_), behavior_); });
  }

 private:
  bool (*pred_)(char32_t);
  SplitBehavior behavior_;
};

// `\w+|[^\w\s]+` with the Rust regex crate's classes, kept; whitespace between the runs is removed.
class WhitespacePreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Split>& splits) const override {
    split_each(splits, [](NormalizedString s) {
      const std::string& text = s.get();
      Matches matches;  // runs of word and of other characters are kept (not matches), spaces are matches
      int run = -1;     // 0: space, 1: word, 2: other
      for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t start = pos;
        const char32_t c = next_char(text, pos);
        const int kind = is_regex_word(c) ? 1 : is_whitespace(c) ? 0 : 2;
        if (kind == run) {
          matches.back().end = pos;
        } else {
          matches.push_back({start, pos, kind == 0});
        }
        run = kind;
      }
      return s.split(matches, SplitBehavior::kRemoved);
    });
  }
};

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}
  void pre_tokenize(std::vector<Split>& splits) const override {
    // GPT-2's pattern; it always compiles.
    static const Regex gpt2_pattern =
        *Regex::compile(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
    split_each(splits, [&](NormalizedString s) {
      if (add_prefix_space_ && !s.empty() && s.get().front() != ' ') s.prepend(" ");
      return use_regex_ ? s.split(gpt2_pattern.find_matches(s.get()), SplitBehavior::kIsolated)
                        : Pieces{std::move(s)};
    });
    for (Split& split : splits) {
      if (split.ids) continue;
      std::vector<Change> dest;
      for (const char ch : split.text.get()) {
        const auto byte = static_cast<unsigned char>(ch);
        // Every byte becomes one printable character; continuation bytes count as inserted.
        dest.push_back({byte_to_char(byte), (byte & 0xC0U) == 0x80U ? 1 : 0});
      }
      split.text.transform(dest, 0);
    }
  }

 private:
  bool add_prefix_space_;
  bool use_regex_;
};

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  MetaspacePreTokenizer(char32_t replacement, Prepend prepend, bool split)
      : replacement_(replacement),
        replacement_utf8_(to_utf8(std::u32string(1, replacement))),
        prepend_(prepend),
        split_(split) {}
  void pre_tokenize(std::vector<Split>& splits) const override {
    split_each(splits, [&](NormalizedString s) {
      s.replace(find_char_matches(s.get(), [](char32_t c) { return c == U' '; }), replacement_utf8_);
      std::size_t first = 0;
      const bool starts_with = !s.empty() && next_char(s.get(), first) == replacement_;
      // "first": only the piece that starts the original input (its original offset is 0).
      if (!starts_with &&
          (prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && s.original_start() == 0))) {
        s.prepend(replacement_utf8_);
      }
      if (!split_) return Pieces{std::move(s)};
      return s.split(find_char_matches(s.get(), [this](char32_t c) { return c == replacement_; }),
                     SplitBehavior::kMergedWithNext);
    });
  }

 private:
  char32_t replacement_;
  std::string replacement_utf8_;
  Prepend prepend_;
  bool split_;
};

Expected<SplitBehavior> parse_behavior(const json& j) {
  static const std::array<std::pair<std::string_view, SplitBehavior>, 5> behavior_names = {{
      {"Removed", SplitBehavior::kRemoved},
      {"Isolated", SplitBehavior::kIsolated},
      {"MergedWithPrevious", SplitBehavior::kMergedWithPrevious},
      {"MergedWithNext", SplitBehavior::kMergedWithNext},
      {"Contiguous", SplitBehavior::kContiguous},
  }};
  const std::string name = j.get<std::string>();
  for (const auto& [key, behavior] : behavior_names) {
    if (name == key) return behavior;
  }
  return Error{ErrorKind::kInternal, "unknown split behavior '" + name + "'"};
}

std::unique_ptr<PreTokenizer> char_split(bool (*pred)(char32_t), SplitBehavior behavior) {
  return std::make_unique<CharSplitPreTokenizer>(pred, behavior);
}

}  // namespace

Expected<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const json& j) {
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (const json& part : j.at("pretokenizers")) {
      auto made = make_pre_tokenizer(part);
      if (!made) return std::move(made).error();
      parts.push_back(std::move(*made));
    }
    return std::unique_ptr<PreTokenizer>(std::make_unique<SequencePreTokenizer>(std::move(parts)));
  }
  if (type == "Split") {
    auto regex = make_pattern(j.at("pattern"));
    if (!regex) return std::move(regex).error();
    auto behavior = parse_behavior(j.at("behavior"));
    if (!behavior) return std::move(behavior).error();
    return std::unique_ptr<PreTokenizer>(
        std::make_unique<SplitPreTokenizer>(std::move(*regex), *behavior, flag(j, "invert", false)));
  }
  if (type == "ByteLevel") {
    return std::unique_ptr<PreTokenizer>(std::make_unique<ByteLevelPreTokenizer>(
        flag(j, "add_prefix_space", true), flag(j, "use_regex", true)));
  }
  if (type == "Metaspace") {
    const std::u32string replacement = to_utf32(sanitize_utf8(j.at("replacement").get<std::string>()));
    if (replacement.size() != 1) {
      return Error{ErrorKind::kInternal, "Metaspace replacement must be one character"};
    }
    // Older files have add_prefix_space instead of prepend_scheme; false means "never".
    const std::string scheme = j.value("prepend_scheme", std::string("always"));
    auto prepend = MetaspacePreTokenizer::Prepend::kAlways;
    if (scheme == "first") prepend = MetaspacePreTokenizer::Prepend::kFirst;
    if (scheme == "never" || !flag(j, "add_prefix_space", true)) {
      prepend = MetaspacePreTokenizer::Prepend::kNever;
    }
    return std::unique_ptr<PreTokenizer>(
        std::make_unique<MetaspacePreTokenizer>(replacement[0], prepend, flag(j, "split", true)));
  }
  if (type == "Whitespace") return std::unique_ptr<PreTokenizer>(std::make_unique<WhitespacePreTokenizer>());
  if (type == "WhitespaceSplit") return char_split(&is_whitespace, SplitBehavior::kRemoved);
  if (type == "BertPreTokenizer") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    parts.push_back(char_split(&is_whitespace, SplitBehavior::kRemoved));
    parts.push_back(char_split(&is_bert_punctuation, SplitBehavior::kIsolated));
    return std::unique_ptr<PreTokenizer>(std::make_unique<SequencePreTokenizer>(std::move(parts)));
  }
  if (type == "Punctuation") {
    auto behavior = j.contains("behavior") ? parse_behavior(j.at("behavior"))
                                           : Expected<SplitBehavior>(SplitBehavior::kIsolated);
    if (!behavior) return std::move(behavior).error();
    return char_split(&is_bert_punctuation, *behavior);
  }
  if (type == "Digits") {
    return char_split(&is_numeric, flag(j, "individual_digits", false) ? SplitBehavior::kIsolated
                                                                       : SplitBehavior::kContiguous);
  }
  return Error{ErrorKind::kNotImplemented, "unsupported pre_tokenizer type '" + type + "'"};
}

}  // namespace focal::tok
