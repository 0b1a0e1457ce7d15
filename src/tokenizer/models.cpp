// SPDX-License-Identifier: AGPL-3.0-or-later
// Models: BPE, Unigram and WordPiece.
#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <limits>
#include <queue>
#include <unordered_map>

#include "tokenizer/components.h"

namespace focal::tok {
namespace {

using nlohmann::json;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Vocab = std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>>;

std::optional<std::int32_t> lookup(const Vocab& vocab, std::string_view token) {
  const auto it = vocab.find(token);
  if (it == vocab.end()) return std::nullopt;
  return it->second;
}

std::string byte_token(unsigned char byte) {
  std::array<char, 8> buf{};
  std::snprintf(buf.data(), buf.size(), "<0x%02X>", byte);
  return buf.data();
}

// SentencePiece byte fallback: the <0xNN> token of every byte, or nothing if one is missing.
std::optional<Ids> byte_fallback_ids(const Vocab& vocab, std::string_view text) {
  Ids ids;
  for (const char c : text) {
    const auto id = lookup(vocab, byte_token(static_cast<unsigned char>(c)));
    if (!id) return std::nullopt;
    ids.push_back(*id);
  }
  return ids;
}

std::optional<std::string> optional_string(const json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<std::string>();
}

// ---- BPE --------------------------------------------------------------------------------------------------
class Bpe final : public Model {
 public:
  static Expected<std::unique_ptr<Model>> create(const json& j) {
    auto bpe = std::make_unique<Bpe>();
    for (const auto& [token, id] : j.at("vocab").items()) bpe->vocab_[token] = id.get<std::int32_t>();
    bpe->prefix_ = optional_string(j, "continuing_subword_prefix");
    bpe->suffix_ = optional_string(j, "end_of_word_suffix");
    if (const auto unk = optional_string(j, "unk_token")) {
      bpe->has_unk_ = true;
      bpe->unk_id_ = lookup(bpe->vocab_, *unk);
    }
    bpe->fuse_unk_ = flag(j, "fuse_unk", false);
    bpe->byte_fallback_ = flag(j, "byte_fallback", false);
    bpe->ignore_merges_ = flag(j, "ignore_merges", false);
    // Merges are "a b" strings (hub files) or ["a", "b"] pairs (tokenizers >= 0.20); a later duplicate wins.
    std::uint32_t rank = 0;
    const std::size_t prefix_len = bpe->prefix_ ? bpe->prefix_->size() : 0;
    for (const json& merge : j.at("merges")) {
      std::string a;
      std::string b;
      if (merge.is_array()) {
        a = merge.at(0).get<std::string>();
        b = merge.at(1).get<std::string>();
      } else {
        const std::string line = merge.get<std::string>();
        if (line.rfind("#version", 0) == 0) continue;
        const std::size_t space = line.find(' ');
        if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
          return Error{ErrorKind::kInternal, "bad BPE merge '" + line + "'"};
        }
        a = line.substr(0, space);
        b = line.substr(space + 1);
      }
      const auto a_id = lookup(bpe->vocab_, a);
      const auto b_id = lookup(bpe->vocab_, b);
      const auto new_id =
          b.size() < prefix_len ? std::nullopt : lookup(bpe->vocab_, a + b.substr(prefix_len));
      if (!a_id || !b_id || !new_id) {
        return Error{ErrorKind::kInternal, "BPE merge of tokens not in the vocabulary"};
      }
      bpe->merges_[pair_key(*a_id, *b_id)] = {rank++, *new_id};
    }
    return std::unique_ptr<Model>(std::move(bpe));
  }

  void tokenize(std::string_view word, Ids& out) const override {
    if (ignore_merges_) {
      if (const auto id = lookup(vocab_, word)) {
        out.push_back(*id);
        return;
      }
    }
    std::vector<Symbol> symbols = initial_symbols(word);
    merge_all(symbols);
    for (const Symbol& s : symbols) {
      if (s.len != 0 && s.id >= 0) out.push_back(s.id);
    }
  }

  std::optional<std::int32_t> token_to_id(std::string_view token) const override {
    return lookup(vocab_, token);
  }
  std::size_t vocab_size() const override { return vocab_.size(); }

 private:
  struct Symbol {
    std::int32_t id;
    std::ptrdiff_t prev;
    std::ptrdiff_t next;
    std::size_t len;  // bytes of the word it covers; 0 once merged into its left neighbour
  };
  struct MergeInfo {
    std::uint32_t rank;
    std::int32_t new_id;
  };

  static std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
  }

  const MergeInfo* find_merge(std::int32_t a, std::int32_t b) const {
    const auto it = merges_.find(pair_key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }

  static void add(std::vector<Symbol>& symbols, std::int32_t id, std::size_t len) {
    const auto n = static_cast<std::ptrdiff_t>(symbols.size());
    if (!symbols.empty()) symbols.back().next = n;
    symbols.push_back({id, n - 1, -1, len});
  }

  // `BPE::merge_word`: a symbol per character (with prefix/suffix), byte fallback or (fused) unknown.
  std::vector<Symbol> initial_symbols(std::string_view word) const {
    std::vector<Symbol> symbols;
    std::size_t unk_len = 0;  // bytes of the pending unknown run, 0 if none
    const std::int32_t unk_id =
        unk_id_.value_or(-1);  // -1 (never output): tokenizers fails the encode instead
    for (std::size_t pos = 0; pos < word.size();) {
      const std::size_t start = pos;
      next_char(word, pos);
      const std::size_t byte_len = pos - start;
      std::string s(word.substr(start, byte_len));
      if (start != 0 && prefix_) s = *prefix_ + s;
      if (pos == word.size() && suffix_) s += *suffix_;
      if (const auto id = lookup(vocab_, s)) {
        if (unk_len != 0) add(symbols, unk_id, unk_len);
        unk_len = 0;
        add(symbols, *id, byte_len);
        continue;
      }
      if (byte_fallback_) {
        if (const auto bytes = byte_fallback_ids(vocab_, s)) {
          for (const std::int32_t id : *bytes) add(symbols, id, 1);
          continue;
        }
      }
      if (!has_unk_) continue;
      if (unk_len != 0 && !fuse_unk_) {
        add(symbols, unk_id, unk_len);
        unk_len = 0;
      }
      unk_len += byte_len;
    }
    if (unk_len != 0) add(symbols, unk_id, unk_len);
    return symbols;
  }

  // `Word::merge_all`: repeatedly apply the lowest-ranked merge (leftmost among equals).
  void merge_all(std::vector<Symbol>& symbols) const {
    struct Candidate {
      std::size_t pos;
      std::uint32_t rank;
      std::int32_t new_id;
    };
    const auto later = [](const Candidate& x, const Candidate& y) {
      return x.rank != y.rank ? x.rank > y.rank : x.pos > y.pos;
    };
    std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
    for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
      if (const MergeInfo* m = find_merge(symbols[i].id, symbols[i + 1].id)) {
        queue.push({i, m->rank, m->new_id});
      }
    }
    while (!queue.empty()) {
      const Candidate top = queue.top();
      queue.pop();
      Symbol& current = symbols[top.pos];
      if (current.len == 0 || current.next == -1) continue;
      const auto next_pos = static_cast<std::size_t>(current.next);
      const Symbol right = symbols[next_pos];
      const MergeInfo* m = find_merge(current.id, right.id);
      if (m == nullptr || m->new_id != top.new_id) continue;  // stale candidate
      current.id = top.new_id;
      current.len += right.len;
      current.next = right.next;
      symbols[next_pos].len = 0;
      if (right.next > -1 && static_cast<std::size_t>(right.next) < symbols.size()) {
        symbols[static_cast<std::size_t>(right.next)].prev = static_cast<std::ptrdiff_t>(top.pos);
      }
      if (current.prev >= 0) {
        const auto prev = static_cast<std::size_t>(current.prev);
        if (const MergeInfo* pm = find_merge(symbols[prev].id, current.id)) {
          queue.push({prev, pm->rank, pm->new_id});
        }
      }
      if (current.next >= 0 && static_cast<std::size_t>(current.next) < symbols.size()) {
        const Symbol& next = symbols[static_cast<std::size_t>(current.next)];
        if (const MergeInfo* nm = find_merge(current.id, next.id)) {
          queue.push({top.pos, nm->rank, nm->new_id});
        }
      }
    }
  }

  Vocab vocab_;
  std::unordered_map<std::uint64_t, MergeInfo> merges_;
  std::optional<std::string> prefix_;
  std::optional<std::string> suffix_;
  bool has_unk_ = false;
  std::optional<std::int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
};

// ---- Unigram ----------------------------------------------------------------------------------------------
class Unigram final : public Model {
 public:
  static Expected<std::unique_ptr<Model>> create(const json& j) {
    auto model = std::make_unique<Unigram>();
    double min_score = std::numeric_limits<double>::infinity();
    for (const json& entry : j.at("vocab")) {
      const auto id = static_cast<std::int32_t>(model->scores_.size());
      const std::string piece = entry.at(0).get<std::string>();
      model->scores_.push_back(entry.at(1).get<double>());
      model->vocab_[piece] = id;  // a later duplicate wins, as in `tokenizers`
      model->max_piece_len_ = std::max(model->max_piece_len_, piece.size());
      min_score = std::min(min_score, model->scores_.back());
    }
    if (j.contains("unk_id") && !j.at("unk_id").is_null()) {
      const auto unk = j.at("unk_id").get<std::int64_t>();
      if (unk < 0 || static_cast<std::size_t>(unk) >= model->scores_.size()) {
        return Error{ErrorKind::kInternal, "Unigram unk_id is not in the vocabulary"};
      }
      model->unk_id_ = static_cast<std::int32_t>(unk);
    }
    model->unk_score_ = min_score - 10.0;  // K_UNK_PENALTY
    model->byte_fallback_ = flag(j, "byte_fallback", false);
    return std::unique_ptr<Model>(std::move(model));
  }

  void tokenize(std::string_view sentence, Ids& out) const override {
    for (const std::string_view piece : best_path(sentence)) {
      if (const auto id = lookup(vocab_, piece)) {
        out.push_back(*id);
      } else if (const auto bytes = byte_fallback_ ? byte_fallback_ids(vocab_, piece) : std::nullopt) {
        out.insert(out.end(), bytes->begin(), bytes->end());
      } else if (unk_id_) {  // without one, tokenizers fails the encode; the piece is dropped here
        out.push_back(*unk_id_);
      }
    }
  }

  std::optional<std::int32_t> token_to_id(std::string_view token) const override {
    return lookup(vocab_, token);
  }
  std::size_t vocab_size() const override { return scores_.size(); }

 private:
  // Viterbi over the pieces (`Unigram::encode_optimized`): ties keep the earlier, shorter candidate; runs of
  // unknown characters are fused into one piece.
  std::vector<std::string_view> best_path(std::string_view s) const {
    struct Node {
      std::int32_t id = 0;
      double score = 0.0;
      std::optional<std::size_t> start;
    };
    std::vector<Node> best(s.size() + 1);
    const auto offer = [&](std::size_t start, std::size_t end, std::int32_t id, double score) {
      Node& target = best[end];
      const double candidate = score + best[start].score;
      if (!target.start || candidate > target.score) target = {id, candidate, start};
    };
    for (std::size_t start = 0; start < s.size();) {
      std::size_t char_end = start;
      next_char(s, char_end);
      bool has_single = false;
      for (std::size_t end = char_end; end <= s.size() && end - start <= max_piece_len_;) {
        if (const auto id = lookup(vocab_, s.substr(start, end - start))) {
          offer(start, end, *id, scores_[static_cast<std::size_t>(*id)]);
          has_single = has_single || end == char_end;
        }
        if (end == s.size()) break;
        next_char(s, end);
      }
      if (!has_single) offer(start, char_end, unk_id_.value_or(-1), unk_score_);
      start = char_end;
    }
    std::vector<std::string_view> pieces;
    std::size_t unknown_end = 0;  // end of the fused unknown run being collected, 0 if none
    for (std::size_t end = s.size(); end > 0;) {
      const Node& node = best[end];
      const std::size_t start = node.start.value_or(0);
      if (node.id == unk_id_.value_or(-1)) {
        if (unknown_end == 0) unknown_end = end;
      } else {
        if (unknown_end != 0) pieces.push_back(s.substr(end, unknown_end - end));
        unknown_end = 0;
        pieces.push_back(s.substr(start, end - start));
      }
      end = start;
    }
    if (unknown_end != 0) pieces.push_back(s.substr(0, unknown_end));
    return {pieces.rbegin(), pieces.rend()};
  }

  Vocab vocab_;
  std::vector<double> scores_;
  std::size_t max_piece_len_ = 0;
  std::optional<std::int32_t> unk_id_;
  double unk_score_ = 0.0;
  bool byte_fallback_ = false;
};

// ---- WordPiece --------------------------------------------------------------------------------------------
class WordPiece final : public Model {
 public:
  static Expected<std::unique_ptr<Model>> create(const json& j) {
    auto model = std::make_unique<WordPiece>();
    for (const auto& [token, id] : j.at("vocab").items()) model->vocab_[token] = id.get<std::int32_t>();
    model->unk_id_ = lookup(model->vocab_, j.value("unk_token", std::string("[UNK]")));
    model->prefix_ = j.value("continuing_subword_prefix", std::string("##"));
    model->max_chars_ = j.value("max_input_chars_per_word", std::size_t{100});
    return std::unique_ptr<Model>(std::move(model));
  }

  // Greedy longest-match-first; a word with any unmatched part becomes a single unknown token.
  void tokenize(std::string_view word, Ids& out) const override {
    Ids pieces;
    bool bad = to_utf32(word).size() > max_chars_;
    for (std::size_t start = 0; !bad && start < word.size();) {
      std::size_t end = word.size();
      std::optional<std::int32_t> found;
      while (start < end) {
        std::string candidate(word.substr(start, end - start));
        if (start > 0) candidate = prefix_ + candidate;
        found = lookup(vocab_, candidate);
        if (found) break;
        do {
          --end;
        } while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0U) == 0x80U);
      }
      if (!found) bad = true;
      if (found) pieces.push_back(*found);
      start = end;
    }
    if (!bad) {
      out.insert(out.end(), pieces.begin(), pieces.end());
    } else if (unk_id_) {  // without one, tokenizers fails the encode; the word is dropped here
      out.push_back(*unk_id_);
    }
  }

  std::optional<std::int32_t> token_to_id(std::string_view token) const override {
    return lookup(vocab_, token);
  }
  std::size_t vocab_size() const override { return vocab_.size(); }

 private:
  Vocab vocab_;
  std::optional<std::int32_t> unk_id_;
  std::string prefix_;
  std::size_t max_chars_ = 100;
};

}  // namespace

Expected<std::unique_ptr<Model>> make_model(const json& j) {
  // Files from before the "type" tag are told apart by their fields, as `tokenizers` does.
  std::string type = j.value("type", std::string());
  if (type.empty()) type = j.contains("merges") ? "BPE" : j.at("vocab").is_array() ? "Unigram" : "WordPiece";
  if (type == "BPE") return Bpe::create(j);
  if (type == "Unigram") return Unigram::create(j);
  if (type == "WordPiece") return WordPiece::create(j);
  return Error{ErrorKind::kNotImplemented, "unsupported model type '" + type + "'"};
}

}  // namespace focal::tok
