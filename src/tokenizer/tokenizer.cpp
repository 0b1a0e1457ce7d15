// SPDX-License-Identifier: AGPL-3.0-or-later
// The tokenizer.json pipeline (`TokenizerImpl::encode` of `tokenizers`):
//   added tokens are split off the raw text, the rest is normalised, added tokens marked "normalized" are
//   split off the normalised text, then pre-tokenized, tokenized by the model, truncated, post-processed and
//   padded.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "tokenizer/components.h"

namespace focal {
namespace {

using nlohmann::json;
using tok::Ids;
using tok::NormalizedString;
using tok::Split;

struct AddedToken {
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
  bool operator==(const AddedToken&) const = default;
};

// Leftmost-longest, non-overlapping search for the added tokens (aho-corasick's MatchKind::LeftmostLongest).
class TokenMatcher {
 public:
  struct Hit {
    std::size_t start;
    std::size_t end;
    std::int32_t id;
    const AddedToken* token;  // the flags of the token registered last with this id
  };

  void add(std::string_view pattern, std::int32_t id, const AddedToken& token) {
    if (pattern.empty()) return;  // would match everywhere; no real file has one
    std::size_t node = 0;
    for (const char c : pattern) {
      const auto [it, inserted] = nodes_[node].next.try_emplace(static_cast<unsigned char>(c), nodes_.size());
      if (inserted) nodes_.emplace_back();
      node = it->second;
    }
    if (!nodes_[node].id) {
      nodes_[node].id = id;
      nodes_[node].token = token;
    }
  }

  std::vector<Hit> find_all(std::string_view text) const {
    std::vector<Hit> hits;
    for (std::size_t start = 0; start < text.size();) {
      std::optional<Hit> longest;
      std::size_t node = 0;
      for (std::size_t i = start; i < text.size(); ++i) {
        const auto it = nodes_[node].next.find(static_cast<unsigned char>(text[i]));
        if (it == nodes_[node].next.end()) break;
        node = it->second;
        if (nodes_[node].id) longest = Hit{start, i + 1, *nodes_[node].id, &nodes_[node].token};
      }
      if (longest) hits.push_back(*longest);
      start = longest ? longest->end : start + 1;
    }
    return hits;
  }

 private:
  struct Node {
    std::map<unsigned char, std::size_t> next;
    std::optional<std::int32_t> id;
    AddedToken token;
  };
  std::vector<Node> nodes_{1};
};

bool starts_with_word(std::string_view s) {
  std::size_t pos = 0;
  return !s.empty() && tok::is_regex_word(tok::next_char(s, pos));
}

bool ends_with_word(std::string_view s) {
  if (s.empty()) return false;
  std::size_t start = s.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0U) == 0x80U) --start;
  return tok::is_regex_word(tok::next_char(s, start));
}

// Start of the whitespace run that ends `s` (`\s*$`).
std::size_t trailing_space_start(std::string_view s) {
  std::size_t start = s.size();
  for (std::size_t pos = 0; pos < s.size();) {
    const std::size_t at = pos;
    if (!tok::is_whitespace(tok::next_char(s, pos))) {
      start = s.size();
    } else if (start == s.size()) {
      start = at;
    }
  }
  return start;
}

// End of the whitespace run that starts `s` (`^\s*`).
std::size_t leading_space_end(std::string_view s) {
  std::size_t end = 0;
  for (std::size_t pos = 0; pos < s.size() && tok::is_whitespace(tok::next_char(s, pos));) end = pos;
  return end;
}

// `AddedVocabulary`: the tokens of "added_tokens", matched before the model sees the text.
class AddedVocabulary {
 public:
  // Ids come from the model vocabulary, or continue after it; the ids written in the file are not used, as in
  // `tokenizers` (it only warns when they differ).
  AddedVocabulary(const std::vector<AddedToken>& tokens, const tok::Model& model,
                  const tok::Normalizer* normalizer) {
    std::vector<AddedToken> specials;
    std::vector<AddedToken> others;
    std::vector<std::string> special_contents;
    std::map<std::int32_t, AddedToken> by_id;  // id -> the token last registered with it
    for (const AddedToken& t : tokens) {
      if (t.special && !t.content.empty() &&
          std::find(special_contents.begin(), special_contents.end(), t.content) == special_contents.end()) {
        specials.push_back(t);
        special_contents.push_back(t.content);
      }
    }
    for (const AddedToken& t : tokens) {
      const bool known =
          std::any_of(by_id.begin(), by_id.end(), [&](const auto& entry) { return entry.second == t; });
      if (t.content.empty() || known) continue;
      std::int32_t id = 0;
      if (const auto existing = token_to_id(t.content, model)) {
        id = *existing;
      } else {
        const auto vocab_size = static_cast<std::int32_t>(model.vocab_size());
        std::optional<std::int32_t> max;
        for (const auto& entry : ids_) max = std::max(max.value_or(entry.second), entry.second);
        id = !max ? vocab_size : (*max >= vocab_size || vocab_size == 0) ? *max + 1 : vocab_size;
      }
      ids_[t.content] = id;
      by_id[id] = t;
      if (std::find(special_contents.begin(), special_contents.end(), t.content) == special_contents.end()) {
        others.push_back(t);
      }
    }
    specials.insert(specials.end(), others.begin(), others.end());
    for (const AddedToken& t : specials) {
      const std::int32_t id = *token_to_id(t.content, model);
      if (!t.normalized) {
        raw_.add(t.content, id, by_id[id]);
        continue;
      }
      NormalizedString pattern(t.content);
      if (normalizer != nullptr) normalizer->normalize(pattern);
      normalized_.add(pattern.get(), id, by_id[id]);
    }
  }

  std::optional<std::int32_t> token_to_id(std::string_view content, const tok::Model& model) const {
    const auto it = ids_.find(std::string(content));
    return it != ids_.end() ? std::optional<std::int32_t>(it->second) : model.token_to_id(content);
  }

  std::vector<Split> extract_and_normalize(std::string_view text, const tok::Normalizer* normalizer) const {
    std::vector<Split> splits;
    splits.push_back({NormalizedString(std::string(text)), std::nullopt});
    tok::split_each(splits, [&](NormalizedString s) { return split_on(s, raw_); });
    tok::split_each(splits, [&](NormalizedString s) {
      if (normalizer != nullptr) normalizer->normalize(s);
      return split_on(s, normalized_);
    });
    return splits;
  }

 private:
  // `AddedVocabulary::find_matches` + `split_with_indices`: the flags may widen or veto a match.
  std::vector<Split> split_on(const NormalizedString& text, const TokenMatcher& matcher) const {
    const std::string& s = text.get();
    std::vector<Split> out;
    std::size_t offset = 0;
    for (TokenMatcher::Hit hit : matcher.find_all(s)) {
      const AddedToken& token = *hit.token;
      if (token.single_word &&
          ((hit.start != 0 && ends_with_word(std::string_view(s).substr(0, hit.start))) ||
           (hit.end != s.size() && starts_with_word(std::string_view(s).substr(hit.end))))) {
        continue;
      }
      if (token.lstrip) {
        hit.start = std::max(trailing_space_start(std::string_view(s).substr(0, hit.start)), offset);
      }
      if (token.rstrip) hit.end += leading_space_end(std::string_view(s).substr(hit.end));
      if (offset < hit.start) out.push_back({text.slice({offset, hit.start}), std::nullopt});
      out.push_back({text.slice({hit.start, hit.end}), Ids{hit.id}});
      offset = hit.end;
    }
    if (offset != s.size()) out.push_back({text.slice({offset, s.size()}), std::nullopt});
    return out;
  }

  std::unordered_map<std::string, std::int32_t> ids_;  // content -> id
  TokenMatcher raw_;
  TokenMatcher normalized_;
};

std::vector<AddedToken> parse_added_tokens(const json& j) {
  std::vector<AddedToken> tokens;
  if (!j.is_array()) return tokens;
  for (const json& t : j) {
    tokens.push_back({t.at("content").get<std::string>(), tok::flag(t, "single_word", false),
                      tok::flag(t, "lstrip", false), tok::flag(t, "rstrip", false),
                      tok::flag(t, "normalized", true), tok::flag(t, "special", false)});
  }
  return tokens;
}

// A missing or null component is absent (nullptr); otherwise it must build.
template <class T, class Make>
Expected<std::unique_ptr<T>> optional_component(const json& root, const char* key, Make make) {
  if (!root.contains(key) || root.at(key).is_null()) return std::unique_ptr<T>();
  return make(root.at(key));
}

constexpr std::string_view kPunctuation = R"(!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~)";

}  // namespace

struct Tokenizer::Impl {
  std::unique_ptr<tok::Normalizer> normalizer;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
  std::unique_ptr<tok::Model> model;
  std::unique_ptr<tok::PostProcessor> post_processor;
  std::optional<AddedVocabulary> added;
  int context_length = 0;
  std::int32_t pad_id = 0;
};

Expected<Tokenizer> Tokenizer::from_file(const std::filesystem::path& tokenizer_json,
                                         TokenizerOptions options) {
  std::ifstream in(tokenizer_json, std::ios::binary);
  if (!in) return Error{ErrorKind::kInternal, "cannot read " + tokenizer_json.string()};
  std::ostringstream text;
  text << in.rdbuf();
  auto tokenizer = from_json(text.str(), std::move(options));
  if (!tokenizer) {
    return Error{tokenizer.error().kind, tokenizer_json.string() + ": " + tokenizer.error().message};
  }
  return tokenizer;
}

Expected<Tokenizer> Tokenizer::from_json(std::string_view tokenizer_json, TokenizerOptions options) {
  const json root = json::parse(tokenizer_json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return Error{ErrorKind::kInternal, "tokenizer.json is not valid JSON"};
  }
  auto impl = std::make_shared<Impl>();
  try {
    auto normalizer = optional_component<tok::Normalizer>(root, "normalizer", tok::make_normalizer);
    if (!normalizer) return std::move(normalizer).error();
    auto pre_tokenizer =
        optional_component<tok::PreTokenizer>(root, "pre_tokenizer", tok::make_pre_tokenizer);
    if (!pre_tokenizer) return std::move(pre_tokenizer).error();
    auto post_processor =
        optional_component<tok::PostProcessor>(root, "post_processor", tok::make_post_processor);
    if (!post_processor) return std::move(post_processor).error();
    auto model = tok::make_model(root.at("model"));
    if (!model) return std::move(model).error();
    impl->normalizer = std::move(*normalizer);
    impl->pre_tokenizer = std::move(*pre_tokenizer);
    impl->post_processor = std::move(*post_processor);
    impl->model = std::move(*model);
    impl->added.emplace(parse_added_tokens(root.value("added_tokens", json())), *impl->model,
                        impl->normalizer.get());
  } catch (const json::exception& e) {
    return Error{ErrorKind::kInternal, std::string("malformed tokenizer.json: ") + e.what()};
  }
  const auto pad_id = impl->added->token_to_id(options.pad_token, *impl->model);
  if (options.pad_token.empty() || !pad_id) {
    return Error{ErrorKind::kInternal, "pad token '" + options.pad_token + "' is not in the vocabulary"};
  }
  const std::size_t specials = impl->post_processor ? impl->post_processor->added_tokens() : 0;
  if (options.context_length <= 0 || static_cast<std::size_t>(options.context_length) < specials) {
    return Error{ErrorKind::kInternal, "context length " + std::to_string(options.context_length) +
                                           " leaves no room for the special tokens"};
  }
  impl->pad_id = *pad_id;
  impl->context_length = options.context_length;
  return Tokenizer(std::move(impl));
}

int Tokenizer::context_length() const { return impl_->context_length; }

Encoding Tokenizer::encode(std::string_view text) const {
  const Impl& impl = *impl_;
  std::vector<Split> splits =
      impl.added->extract_and_normalize(tok::sanitize_utf8(text), impl.normalizer.get());
  if (impl.pre_tokenizer) impl.pre_tokenizer->pre_tokenize(splits);
  Ids ids;
  for (const Split& split : splits) {
    if (split.ids) {
      ids.insert(ids.end(), split.ids->begin(), split.ids->end());
    } else {
      impl.model->tokenize(split.text.get(), ids);
    }
  }
  // enable_truncation(max_length=L): right side, leaving room for the post-processor's special tokens.
  const auto length = static_cast<std::size_t>(impl.context_length);
  const std::size_t room = length - (impl.post_processor ? impl.post_processor->added_tokens() : 0);
  if (ids.size() > room) ids.resize(room);
  if (impl.post_processor) ids = impl.post_processor->process(std::move(ids));
  // enable_padding(length=L): pad on the right.
  Encoding out;
  out.attention_mask.assign(ids.size(), 1);
  out.ids = std::move(ids);
  out.ids.resize(length, impl.pad_id);
  out.attention_mask.resize(length, 0);
  return out;
}

std::string clean_text(std::string_view text, bool canonicalize) {
  const std::string valid = tok::sanitize_utf8(text);
  std::string out;
  bool space = false;  // a separator is pending
  for (std::size_t pos = 0; pos < valid.size();) {
    const std::size_t start = pos;
    if (tok::is_python_space(tok::next_char(valid, pos))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out.append(valid, start, pos - start);
  }
  if (!canonicalize) return out;
  std::erase_if(out, [](char c) { return kPunctuation.find(c) != std::string_view::npos; });
  return tok::python_lower(out);
}

std::optional<std::string_view> nllb_language_code(std::string_view language) {
  static constexpr auto kFlores = std::to_array<std::pair<std::string_view, std::string_view>>({
      {"af", "afr_Latn"},      {"ar", "arb_Arab"},    {"az", "azj_Latn"},      {"be", "bel_Cyrl"},
      {"bg", "bul_Cyrl"},      {"ca", "cat_Latn"},    {"cs", "ces_Latn"},      {"da", "dan_Latn"},
      {"de", "deu_Latn"},      {"el", "ell_Grek"},    {"en", "eng_Latn"},      {"es", "spa_Latn"},
      {"et", "est_Latn"},      {"fa", "pes_Arab"},    {"fi", "fin_Latn"},      {"fr", "fra_Latn"},
      {"he", "heb_Hebr"},      {"hi", "hin_Deva"},    {"hr", "hrv_Latn"},      {"hu", "hun_Latn"},
      {"hy", "hye_Armn"},      {"id", "ind_Latn"},    {"it", "ita_Latn"},      {"ja", "jpn_Hira"},
      {"kmr", "kmr_Latn"},     {"ko", "kor_Hang"},    {"lb", "ltz_Latn"},      {"lt", "lit_Latn"},
      {"lv", "lav_Latn"},      {"mfa", "zsm_Latn"},   {"mk", "mkd_Cyrl"},      {"mn", "khk_Cyrl"},
      {"mr", "mar_Deva"},      {"ms", "zsm_Latn"},    {"nb-NO", "nob_Latn"},   {"nn", "nno_Latn"},
      {"nl", "nld_Latn"},      {"pl", "pol_Latn"},    {"pt-BR", "por_Latn"},   {"pt", "por_Latn"},
      {"ro", "ron_Latn"},      {"ru", "rus_Cyrl"},    {"sk", "slk_Latn"},      {"sl", "slv_Latn"},
      {"sr-Cyrl", "srp_Cyrl"}, {"sv", "swe_Latn"},    {"ta", "tam_Taml"},      {"te", "tel_Telu"},
      {"th", "tha_Thai"},      {"tr", "tur_Latn"},    {"uk", "ukr_Cyrl"},      {"ur", "urd_Arab"},
      {"vi", "vie_Latn"},      {"zh-CN", "zho_Hans"}, {"zh-Hans", "zho_Hans"}, {"zh-TW", "zho_Hant"},
  });
  const auto find = [&](std::string_view code) -> std::optional<std::string_view> {
    for (const auto& [weblate, flores] : kFlores) {
      if (weblate == code) return flores;
    }
    return std::nullopt;
  };
  if (const auto code = find(language)) return code;
  return find(language.substr(0, language.find('-')));
}

}  // namespace focal
