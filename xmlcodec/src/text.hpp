// Shared by encoder and decoder: which bytes XML 1.0 can carry.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xgate::detail {

// Length of the valid XML character at p (1..4), or 0 when the byte at p must be escaped
// (invalid UTF-8, a control character, a surrogate, U+FFFE/U+FFFF).
inline std::size_t xml_char_length(const unsigned char* p, std::size_t avail) noexcept {
  unsigned char c = p[0];
  if (c < 0x80) return (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') ? 1 : 0;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return (avail >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
  if (c < 0xF0) {
    if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;              // overlong
    if (c == 0xED && p[1] >= 0xA0) return 0;             // surrogates
    if (c == 0xEF && p[1] == 0xBF && p[2] >= 0xBE) return 0;  // U+FFFE, U+FFFF
    return 3;
  }
  if (c < 0xF5) {
    if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;  // overlong
    if (c == 0xF4 && p[1] >= 0x90) return 0;  // beyond U+10FFFF
    return 4;
  }
  return 0;
}

inline bool is_xml_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace xgate::detail
