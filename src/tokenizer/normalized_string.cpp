// SPDX-License-Identifier: AGPL-3.0-or-later
#include "tokenizer/normalized_string.h"

#include <algorithm>

namespace focal::tok {
namespace {

bool is_char_boundary(std::string_view s, std::size_t i) {
  return i == s.size() || (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0U) != 0x80U);
}

}  // namespace

Matches find_char_matches(std::string_view text, const std::function<bool(char32_t)>& pred) {
  if (text.empty()) return {{0, 0, false}};
  Matches out;
  std::size_t last = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t start = pos;
    if (pred(next_char(text, pos))) {
      if (last < start) out.push_back({last, start, false});
      out.push_back({start, pos, true});
      last = pos;
    }
  }
  if (last < text.size()) out.push_back({last, text.size(), false});
  return out;
}

Matches invert(Matches matches) {
  for (Match& m : matches) m.is_match = !m.is_match;
  return matches;
}

NormalizedString::NormalizedString(std::string text) : original_(text), normalized_(std::move(text)) {
  alignments_.reserve(normalized_.size());
  for (std::size_t pos = 0; pos < normalized_.size();) {
    const std::size_t start = pos;
    next_char(normalized_, pos);
    alignments_.insert(alignments_.end(), pos - start, {start, pos});
  }
}

NormalizedString::Alignment NormalizedString::alignment_at(std::size_t index) const {
  // In range for every well-formed transformation; `tokenizers` would panic otherwise, we degrade.
  if (index < alignments_.size()) return alignments_[index];
  return alignments_.empty() ? Alignment{0, 0} : alignments_.back();
}

std::optional<Range> NormalizedString::original_to_normalized(Range target) const {
  if (target.start == target.end) return target;
  if (target.start > target.end) return std::nullopt;
  std::optional<std::size_t> start;
  std::optional<std::size_t> end;
  for (std::size_t i = 0; i < alignments_.size() && target.end >= alignments_[i].second; ++i) {
    const Alignment& a = alignments_[i];
    if (!start && target.start <= a.first && a.first != a.second) start = i;  // zero-width ones never start
    end = i + 1;
  }
  if (start && end) return Range{*start, *end};
  if (end) return Range{*end, *end};
  return std::nullopt;
}

std::optional<Range> NormalizedString::normalized_to_original(Range target) const {
  if (target.start == target.end) return target;  // `tokenizers` returns an empty range unchanged
  if (target.start > target.end || target.end > alignments_.size()) return std::nullopt;
  return Range{alignments_[target.start].first, alignments_[target.end - 1].second};
}

void NormalizedString::transform_range(Range range, const std::vector<Change>& dest,
                                       std::size_t initial_offset) {
  const std::u32string replaced =
      to_utf32(std::string_view(normalized_).substr(range.start, range.end - range.start));
  std::size_t next = 0;  // next replaced character
  const auto consume = [&](std::size_t count) {
    std::size_t bytes = 0;
    for (; count > 0 && next < replaced.size(); --count) bytes += utf8_length(replaced[next++]);
    return bytes;
  };
  std::size_t offset = range.start + consume(initial_offset);
  std::string text;
  std::vector<Alignment> alignments;
  for (const Change& change : dest) {
    Alignment align;
    if (change.delta > 0) {  // inserted: shares the alignment of the previous byte
      align = offset < 1 ? Alignment{0, 0} : alignment_at(offset - 1);
    } else {
      align = alignment_at(offset);
      offset += consume(1);
      if (change.delta < 0) offset += consume(static_cast<std::size_t>(-change.delta));
    }
    alignments.insert(alignments.end(), utf8_length(change.c), align);
    append_utf8(text, change.c);
  }
  const auto first = alignments_.begin() + static_cast<std::ptrdiff_t>(range.start);
  alignments_.erase(first, alignments_.begin() + static_cast<std::ptrdiff_t>(range.end));
  alignments_.insert(alignments_.begin() + static_cast<std::ptrdiff_t>(range.start), alignments.begin(),
                     alignments.end());
  normalized_.replace(range.start, range.end - range.start, text);
}

void NormalizedString::transform(const std::vector<Change>& dest, std::size_t initial_offset) {
  if (const auto range = original_to_normalized({0, original_.size()})) {
    transform_range(*range, dest, initial_offset);
  }
}

void NormalizedString::filter(const std::function<bool(char32_t)>& keep) {
  std::vector<Change> dest;
  long removed = 0;
  std::size_t removed_start = 0;
  std::optional<char32_t> last;
  for (std::size_t pos = 0; pos < normalized_.size();) {
    const char32_t c = next_char(normalized_, pos);
    if (keep(c)) {
      if (last) {
        dest.push_back({*last, -removed});
      } else {
        removed_start = static_cast<std::size_t>(removed);
      }
      last = c;
      removed = 0;
    } else {
      ++removed;
    }
  }
  if (last) dest.push_back({*last, -removed});
  transform(dest, removed_start);
}

void NormalizedString::map(const std::function<char32_t(char32_t)>& fn) {
  std::vector<Change> dest;
  for (std::size_t pos = 0; pos < normalized_.size();) dest.push_back({fn(next_char(normalized_, pos)), 0});
  transform(dest, 0);
}

void NormalizedString::lowercase() {
  std::vector<Change> dest;
  for (std::size_t pos = 0; pos < normalized_.size();) {
    long delta = 0;
    for (const char32_t c : to_lower(next_char(normalized_, pos))) {
      dest.push_back({c, delta});
      delta = 1;
    }
  }
  transform(dest, 0);
}

void NormalizedString::normalize(NormalForm form) { transform(tok::normalize(normalized_, form), 0); }

void NormalizedString::prepend(std::string_view text) {
  if (normalized_.empty()) return;
  std::size_t first_len = 0;
  const char32_t first = next_char(normalized_, first_len);
  std::vector<Change> dest;
  long delta =
      0;  // the first prepended character takes the place of the current first one, which is re-inserted
  for (const char32_t c : to_utf32(text)) {
    dest.push_back({c, delta});
    delta = 1;
  }
  dest.push_back({first, 1});
  transform_range({0, first_len}, dest, 0);
}

void NormalizedString::replace(const Matches& matches, std::string_view content) {
  std::string text;
  std::vector<Alignment> alignments;
  std::size_t last = 0;
  for (const Match& m : matches) {
    if (!m.is_match) continue;
    text.append(normalized_, last, m.start - last);
    alignments.insert(alignments.end(), alignments_.begin() + static_cast<std::ptrdiff_t>(last),
                      alignments_.begin() + static_cast<std::ptrdiff_t>(m.start));
    // Inserted characters take the alignment of the last replaced byte.
    const Alignment align = m.end < 1 ? Alignment{0, 0} : alignments_[m.end - 1];
    alignments.insert(alignments.end(), content.size(), align);
    text.append(content);
    last = m.end;
  }
  text.append(normalized_, last);
  alignments.insert(alignments.end(), alignments_.begin() + static_cast<std::ptrdiff_t>(last),
                    alignments_.end());
  normalized_ = std::move(text);
  alignments_ = std::move(alignments);
}

void NormalizedString::strip(bool left, bool right) {
  const std::u32string chars = to_utf32(normalized_);
  std::size_t leading = 0;
  std::size_t trailing = 0;
  while (left && leading < chars.size() && is_whitespace(chars[leading])) ++leading;
  while (right && trailing < chars.size() && is_whitespace(chars[chars.size() - 1 - trailing])) ++trailing;
  if (leading == 0 && trailing == 0) return;
  std::vector<Change> dest;
  for (std::size_t i = 0; i < chars.size(); ++i) {
    if (i < leading || i >= chars.size() - trailing) continue;
    // `tokenizers` compares this character index with the *byte* length here (unsigned, wrapping), so for
    // non-ASCII text the trailing removal is not recorded. Only alignments are affected, as there.
    const bool last_kept = i == normalized_.size() - trailing - 1;
    dest.push_back({chars[i], last_kept ? -static_cast<long>(trailing) : 0});
  }
  transform(dest, leading);
}

std::vector<NormalizedString> NormalizedString::split(const Matches& matches, SplitBehavior behavior) const {
  struct Piece {
    Range range;
    bool remove;
  };
  std::vector<Piece> pieces;
  bool previous = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
    case SplitBehavior::kRemoved:
      for (const Match& m : matches) {
        pieces.push_back({{m.start, m.end}, behavior == SplitBehavior::kRemoved && m.is_match});
      }
      break;
    case SplitBehavior::kContiguous:
      for (const Match& m : matches) {
        if (m.is_match == previous && !pieces.empty()) {
          pieces.back().range.end = m.end;
        } else {
          pieces.push_back({{m.start, m.end}, false});
        }
        previous = m.is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Match& m : matches) {
        if (m.is_match && !previous && !pieces.empty()) {
          pieces.back().range.end = m.end;
        } else {
          pieces.push_back({{m.start, m.end}, false});
        }
        previous = m.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto m = matches.rbegin(); m != matches.rend(); ++m) {
        if (m->is_match && !previous && !pieces.empty()) {
          pieces.back().range.start = m->start;
        } else {
          pieces.push_back({{m->start, m->end}, false});
        }
        previous = m->is_match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
  }
  std::vector<NormalizedString> out;
  for (const Piece& piece : pieces) {
    if (!piece.remove) out.push_back(slice(piece.range));
  }
  return out;
}

NormalizedString NormalizedString::slice(Range range) const {
  NormalizedString out;
  const auto original = normalized_to_original(range);
  if (range.start > range.end || !is_char_boundary(normalized_, range.start) ||
      !is_char_boundary(normalized_, range.end) || !original) {
    return out;  // `tokenizers` refuses such a slice; an empty piece is dropped by every caller
  }
  if (original->start <= original->end && is_char_boundary(original_, original->start) &&
      is_char_boundary(original_, original->end)) {
    out.original_ = original_.substr(original->start, original->end - original->start);
  }
  out.normalized_ = normalized_.substr(range.start, range.end - range.start);
  // Unsigned wrap-around on purpose: `tokenizers` (a release build) does the same in the rare inverted cases.
  for (std::size_t i = range.start; i < range.end; ++i) {
    out.alignments_.emplace_back(alignments_[i].first - original->start,
                                 alignments_[i].second - original->start);
  }
  out.original_shift_ = original_shift_ + original->start;
  return out;
}

}  // namespace focal::tok
