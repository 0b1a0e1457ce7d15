// SPDX-License-Identifier: AGPL-3.0-or-later
#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <cctype>
#include <optional>
#include <string>

#include "tokenizer/unicode.h"

namespace focal::tok {
namespace {

// Oniguruma's Unicode \s is White_Space, its \w is Alphabetic | Mark | Nd | Pc; PCRE2's differ (U+180E is \s
// there; \w there is L | N | '_'), so both are spelled out.
constexpr std::string_view kSpace = "\\t-\\r\\x{85}\\p{Z}";
constexpr std::string_view kWord = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}";

std::string to_pcre2(std::string_view onig) {
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < onig.size(); ++i) {
    const char c = onig[i];
    if (c == '\\' && i + 1 < onig.size()) {
      const char e = onig[++i];
      if (e == 's' || e == 'w') {
        const std::string_view set = e == 's' ? kSpace : kWord;
        out += in_class ? std::string(set) : "[" + std::string(set) + "]";
      } else if ((e == 'S' || e == 'W') && !in_class) {
        out += "[^" + std::string(e == 'S' ? kSpace : kWord) + "]";
      } else if (e == 'u' && i + 4 < onig.size() &&
                 std::isxdigit(static_cast<unsigned char>(onig[i + 1])) != 0 &&
                 std::isxdigit(static_cast<unsigned char>(onig[i + 2])) != 0 &&
                 std::isxdigit(static_cast<unsigned char>(onig[i + 3])) != 0 &&
                 std::isxdigit(static_cast<unsigned char>(onig[i + 4])) != 0) {
        out += "\\x{" + std::string(onig.substr(i + 1, 4)) + "}";  // Ruby's \uHHHH
        i += 4;
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (in_class && c == '[' && i + 1 < onig.size() && onig[i + 1] == ':') {  // POSIX class inside a class
      const std::size_t end = onig.find(":]", i + 2);
      if (end != std::string_view::npos) {
        out.append(onig.substr(i, end + 2 - i));
        i = end + 1;
        continue;
      }
    }
    out += c;
    if (!in_class && c == '[') {
      in_class = true;
      if (i + 1 < onig.size() && onig[i + 1] == '^') out += onig[++i];
      if (i + 1 < onig.size() && onig[i + 1] == ']') out += onig[++i];  // a leading ']' is literal
    } else if (in_class && c == ']') {
      in_class = false;
    }
  }
  return out;
}

}  // namespace

struct Regex::Code {
  explicit Code(pcre2_code* c) : code(c) {}
  Code(const Code&) = delete;
  Code& operator=(const Code&) = delete;
  ~Code() { pcre2_code_free(code); }
  pcre2_code* code;
};

Expected<Regex> Regex::compile(std::string_view pattern) {
  const std::string translated = to_pcre2(pattern);
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  // Ruby syntax: ^ and $ always match at line breaks.
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error, &error_offset, nullptr);
  if (code == nullptr) {
    std::array<PCRE2_UCHAR, 256> message{};
    pcre2_get_error_message(error, message.data(), message.size());
    return Error{ErrorKind::kInternal, "cannot compile regex '" + std::string(pattern) + "': " +
                                           std::string(reinterpret_cast<const char*>(message.data()))};
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional speed-up; matching works without it
  return Regex(std::make_shared<const Code>(code));
}

Regex Regex::literal(std::string_view text) {
  std::string escaped;
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && static_cast<unsigned char>(c) < 0x80) {
      escaped += '\\';
    }
    escaped += c;
  }
  // Escaped ASCII and raw UTF-8 always compile.
  return *compile(escaped);
}

Matches Regex::find_matches(std::string_view text) const {
  if (text.empty()) return {{0, 0, false}};
  Matches out;
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
      pcre2_match_data_create_from_pattern(code_->code, nullptr), &pcre2_match_data_free);
  std::size_t prev = 0;
  std::size_t search_from = 0;
  std::optional<std::size_t> last_match_end;
  while (data && search_from <= text.size()) {
    // Errors (e.g. the backtracking limit) end the search like "no more matches".
    if (pcre2_match(code_->code, subject, text.size(), search_from, PCRE2_NO_UTF_CHECK, data.get(), nullptr) <
        0)
      break;
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data.get());
    const std::size_t start = ovector[0];
    const std::size_t end = ovector[1];
    if (start == end && last_match_end == end) {  // no empty match right after the previous match
      if (search_from < text.size()) {
        std::size_t pos = search_from;
        next_char(text, pos);
        search_from = pos;
      } else {
        ++search_from;
      }
      continue;
    }
    search_from = end;
    last_match_end = end;
    if (prev != start) out.push_back({prev, start, false});
    out.push_back({start, end, true});
    prev = end;
  }
  if (prev != text.size()) out.push_back({prev, text.size(), false});
  return out;
}

}  // namespace focal::tok
