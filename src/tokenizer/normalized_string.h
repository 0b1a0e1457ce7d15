// SPDX-License-Identifier: AGPL-3.0-or-later
// A port of the `tokenizers` NormalizedString: the text being normalised plus, for every byte, the byte range
// of the original text it came from. Token ids depend on these alignments in one place: Metaspace's "first"
// prepend scheme looks at the original offset of each piece. Porting the bookkeeping faithfully (quirks
// included) is the only way to get that offset right after arbitrary normalisers and pre-tokenizers.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/unicode.h"

namespace focal::tok {

struct Range {
  std::size_t start = 0;
  std::size_t end = 0;
};

// A pattern's view of a string: consecutive pieces covering it, each a match or not
// (`Pattern::find_matches`).
struct Match {
  std::size_t start;
  std::size_t end;
  bool is_match;
};
using Matches = std::vector<Match>;

// Every character for which `pred` holds is a match of its own.
Matches find_char_matches(std::string_view text, const std::function<bool(char32_t)>& pred);
Matches invert(Matches matches);

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

class NormalizedString {
 public:
  explicit NormalizedString(std::string text);

  const std::string& get() const { return normalized_; }
  bool empty() const { return normalized_.empty(); }
  // Offset of this piece's original text in the whole input.
  std::size_t original_start() const { return original_shift_; }

  // Replaces the whole normalized text by `dest`; `initial_offset` input characters are dropped at the front.
  void transform(const std::vector<Change>& dest, std::size_t initial_offset);
  void filter(const std::function<bool(char32_t)>& keep);
  void map(const std::function<char32_t(char32_t)>& fn);
  void lowercase();
  void normalize(NormalForm form);
  void prepend(std::string_view text);
  void replace(const Matches& matches, std::string_view content);
  void strip(bool left, bool right);

  // The pieces of the split, by `behavior` for the matched parts; empty pieces are kept (callers drop them).
  std::vector<NormalizedString> split(const Matches& matches, SplitBehavior behavior) const;
  NormalizedString slice(Range range) const;

 private:
  using Alignment = std::pair<std::size_t, std::size_t>;
  NormalizedString() = default;

  std::optional<Range> original_to_normalized(Range target) const;
  std::optional<Range> normalized_to_original(Range target) const;
  void transform_range(Range range, const std::vector<Change>& dest, std::size_t initial_offset);
  Alignment alignment_at(std::size_t index) const;

  std::string original_;
  std::string normalized_;
  std::vector<Alignment> alignments_;  // one per byte of normalized_: byte range in original_
  std::size_t original_shift_ = 0;
};

}  // namespace focal::tok
