// SPDX-License-Identifier: AGPL-3.0-or-later
// Regular expressions as `tokenizers` runs them: Oniguruma (Ruby syntax) semantics, on PCRE2.
#pragma once

#include <memory>
#include <string_view>

#include "core/error.h"
#include "tokenizer/normalized_string.h"

namespace focal::tok {

class Regex {
 public:
  // `pattern` in Oniguruma syntax; the Unicode classes whose definitions differ (\s, \w) are rewritten.
  static Expected<Regex> compile(std::string_view pattern);
  // Matches `text` literally (a "String" pattern).
  static Regex literal(std::string_view text);

  // All non-overlapping matches, left to right, with Oniguruma's handling of empty matches.
  Matches find_matches(std::string_view text) const;

 private:
  struct Code;
  explicit Regex(std::shared_ptr<const Code> code) : code_(std::move(code)) {}
  std::shared_ptr<const Code> code_;  // immutable once compiled: shared between copies and threads
};

}  // namespace focal::tok
