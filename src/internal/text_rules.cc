#include "internal/text_rules.h"

#include <algorithm>
#include <cstring>

namespace dtx::internal {
namespace {

bool IsTokenChar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// Length of the valid UTF-8 sequence at the start of `s`, 0 if there is none.
size_t Utf8Length(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  size_t n = c < 0x80           ? 1
             : (c >> 5) == 0x6  ? 2
             : (c >> 4) == 0xE  ? 3
             : (c >> 3) == 0x1E ? 4
                                : 0;
  if (n == 0 || n > s.size()) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
  }
  // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
  if (n == 2 && c < 0xC2) return 0;
  if (n == 3 && ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) >= 0xA0))) return 0;
  if (n == 4 && ((c == 0xF0 && b(1) < 0x90) || c > 0xF4 || (c == 0xF4 && b(1) >= 0x90))) {
    return 0;
  }
  return n;
}

}  // namespace

bool IsToken(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return IsTokenChar(c); });
}

bool IsFieldValue(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7F);
  });
}

bool IsPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

bool IsVisibleAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c <= 0x7E; });
}

std::string Excerpt(std::string_view text, size_t max_bytes) {
  constexpr std::string_view kCut = "...";
  // Copies whole characters while they fit in `budget`; returns how much was read.
  const auto copy = [&](size_t budget, std::string* out) {
    size_t i = 0;
    while (i < text.size()) {
      const size_t n = Utf8Length(text.substr(i));
      const auto c = static_cast<unsigned char>(text[i]);
      // C0 controls but tab, DEL, and the C1 controls U+0080-U+009F (C2 80-C2 9F).
      const bool control =
          (n == 1 && ((c < 0x20 && c != '\t') || c == 0x7F)) ||
          (n == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0);
      const bool replace = n == 0 || control;
      const size_t width = replace ? 1 : n;
      if (out->size() + width > budget) break;
      if (replace) {
        out->push_back('?');
      } else {
        out->append(text.substr(i, n));
      }
      i += n == 0 ? 1 : n;  // a control character is replaced whole
    }
    return i;
  };
  std::string out;
  if (copy(max_bytes, &out) == text.size()) return out;
  out.clear();
  if (max_bytes < kCut.size()) return out;
  copy(max_bytes - kCut.size(), &out);
  out.append(kCut);
  return out;
}

}  // namespace dtx::internal
