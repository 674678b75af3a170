// Byte classification several bytes at a time, shared by the encoder (escaping) and the
// decoder (text scanning, unescaping and validation).
//
// On x86-64 the masks come from SSE2 (part of the base instruction set, so the build stays
// portable); elsewhere a scalar loop computes the same masks. Every function here reads
// exactly the bytes its contract names: callers make sure they exist (the encoder and the
// decoder copy short tails into a padded buffer), so nothing reads past a buffer's end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "text.hpp"

namespace xgate::detail::simd {

inline unsigned ctz64(std::uint64_t m) noexcept { return static_cast<unsigned>(__builtin_ctzll(m)); }

// Bits at and above `from` (from <= 64).
inline std::uint64_t bits_from(std::size_t from) noexcept { return from >= 64 ? 0 : ~std::uint64_t{0} << from; }
// Bits below `n` (n <= 64).
inline std::uint64_t bits_below(std::size_t n) noexcept { return n >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1; }

inline std::uint32_t load32(const unsigned char* p) noexcept {
  std::uint32_t w;
  std::memcpy(&w, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  w = __builtin_bswap32(w);
#endif
  return w;
}

// ---- one UTF-8 character without branches on its bytes ------------------------------------
// For a lead byte >= 0x80: the sequence length and what its second byte may be; the other
// continuation bytes must be 10xxxxxx (checked through cont_mask/cont_want on the 32-bit
// little-endian word of the four bytes at the lead).
struct utf8_lead_table {
  std::uint8_t len[128];
  std::uint8_t lo[128], span[128];  // second byte in [lo, lo + span]
  std::uint32_t cont_mask[128], cont_want[128];
  constexpr utf8_lead_table() : len(), lo(), span(), cont_mask(), cont_want() {
    for (int k = 0; k < 128; ++k) {
      const int c = k + 0x80;
      int l = c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
      len[k] = static_cast<std::uint8_t>(l);
      int a = 0x80, b = 0xBF;
      if (c == 0xE0) a = 0xA0;  // overlong
      if (c == 0xED) b = 0x9F;  // surrogates
      if (c == 0xF0) a = 0x90;  // overlong
      if (c == 0xF4) b = 0x8F;  // beyond U+10FFFF
      lo[k] = static_cast<std::uint8_t>(a);
      span[k] = static_cast<std::uint8_t>(b - a);
      cont_mask[k] = l == 4 ? 0xC0C00000u : l == 3 ? 0x00C00000u : 0;
      cont_want[k] = l == 4 ? 0x80800000u : l == 3 ? 0x00800000u : 0;
    }
  }
};
inline constexpr utf8_lead_table utf8_leads{};

// The same as xml_char_length(p, 4 or more) for a byte p[0] >= 0x80, reading exactly the four
// bytes p[0..3] (they must exist), with one data-dependent outcome instead of a branch per
// byte: the length 2..4 of the valid XML character at p, or 0. For p[0] < 0x80 the result
// means nothing (callers select it away without a branch).
inline std::size_t utf8_char_length4_any(const unsigned char* p) noexcept {
  const std::uint32_t w = load32(p);
  const unsigned k = w & 0x7F;
  const unsigned b1 = (w >> 8) & 0xFF;
  // Bitwise, not &&: the compiler would branch on each condition.
  const unsigned ok = static_cast<unsigned>(static_cast<std::uint8_t>(b1 - utf8_leads.lo[k]) <= utf8_leads.span[k]) &
                      static_cast<unsigned>((w & utf8_leads.cont_mask[k]) == utf8_leads.cont_want[k]) &
                      static_cast<unsigned>((w & 0x00FEFFFFu) != 0x00BEBFEFu);  // EF BF BE / EF BF BF: U+FFFE, U+FFFF
  return utf8_leads.len[k] & (0u - ok);
}
inline std::size_t utf8_char_length4(const unsigned char* p) noexcept { return p[0] < 0x80 ? 0 : utf8_char_length4_any(p); }

// ---- masks of 64 bytes -------------------------------------------------------------------
// Bit i of each mask describes p[i]; all read exactly p[0..63].

// `special` marks '<', '&', control characters (below 0x20 except tab and newline, so '\r'
// among them), every byte >= 0x80 (checked as UTF-8), and with Gt '>' as well. `cont` marks
// continuation bytes (10xxxxxx) and `cont_expected` the bytes that the lead bytes in the
// block (110xxxxx, 1110xxxx, 11110xxx and above) say should be ones: where the two agree, the
// block's multibyte characters are shaped right (each lead byte still has to be checked for
// overlongs, surrogates and the like).
struct utf8_masks {
  std::uint64_t special, cont, cont_expected;
};
template <bool Gt>
inline utf8_masks utf8_masks64(const unsigned char* p) noexcept {
#if defined(__SSE2__)
  std::uint64_t special = 0, ge_c0 = 0, ge_e0 = 0, ge_f0 = 0, high = 0;
  const __m128i x1f = _mm_set1_epi8(0x1F), tab = _mm_set1_epi8('\t'), nl = _mm_set1_epi8('\n');
  const __m128i two = _mm_set1_epi8(2), lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>'), amp = _mm_set1_epi8('&');
  const __m128i c0 = _mm_set1_epi8(static_cast<char>(0xC0)), e0 = _mm_set1_epi8(static_cast<char>(0xE0)),
                f0 = _mm_set1_epi8(static_cast<char>(0xF0));
  auto bits = [](__m128i x, int k) {
    return static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(x))) << (16 * k);
  };
  for (int k = 0; k < 4; ++k) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    const __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, x1f), x1f);  // v <= 0x1F
    const __m128i ok_ctl = _mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, nl));
    __m128i angle;
    if constexpr (Gt) angle = _mm_cmpeq_epi8(_mm_or_si128(v, two), gt);  // '<' (0x3C) or '>' (0x3E)
    else angle = _mm_cmpeq_epi8(v, lt);
    const __m128i s = _mm_or_si128(_mm_andnot_si128(ok_ctl, ctl), _mm_or_si128(angle, _mm_cmpeq_epi8(v, amp)));
    special |= bits(_mm_or_si128(s, v), k);  // the top bit: bytes >= 0x80
    high |= bits(v, k);
    ge_c0 |= bits(_mm_cmpeq_epi8(_mm_max_epu8(v, c0), v), k);
    ge_e0 |= bits(_mm_cmpeq_epi8(_mm_max_epu8(v, e0), v), k);
    ge_f0 |= bits(_mm_cmpeq_epi8(_mm_max_epu8(v, f0), v), k);
  }
  return {special, high & ~ge_c0, (ge_c0 << 1) | (ge_e0 << 2) | (ge_f0 << 3)};
#else
  utf8_masks r{0, 0, 0};
  for (int i = 0; i < 64; ++i) {
    const unsigned char c = p[i];
    const bool s = c >= 0x80 || c == '<' || (Gt && c == '>') || c == '&' || (c < 0x20 && c != '\t' && c != '\n');
    r.special |= static_cast<std::uint64_t>(s) << i;
    r.cont |= static_cast<std::uint64_t>((c & 0xC0) == 0x80) << i;
    if (c >= 0xC0 && i + 1 < 64) r.cont_expected |= std::uint64_t{1} << (i + 1);
    if (c >= 0xE0 && i + 2 < 64) r.cont_expected |= std::uint64_t{1} << (i + 2);
    if (c >= 0xF0 && i + 3 < 64) r.cont_expected |= std::uint64_t{1} << (i + 3);
  }
  return r;
#endif
}
// Encoder: the bytes element content (and attribute values) cannot hold as they are.
inline utf8_masks escape_masks64(const unsigned char* p) noexcept { return utf8_masks64<true>(p); }
inline std::uint64_t escape_mask64(const unsigned char* p) noexcept { return escape_masks64(p).special; }
// Decoder, raw text of a string value: the bytes that end a plain run.
inline utf8_masks text_masks64(const unsigned char* p) noexcept { return utf8_masks64<false>(p); }

// The 64-byte block at p[i] of a scan over p[0..n): near the end a copy zero-padded in `tail`,
// so reading a block (and copy_run's 16-byte pieces past it) never passes the input, and
// how many of the block's bytes are input.
struct padded_block {
  const unsigned char* bytes;
  std::size_t size;
};
inline padded_block block_at(const unsigned char* p, std::size_t i, std::size_t n, unsigned char (&tail)[96]) noexcept {
  const std::size_t avail = n - i;
  if (avail >= 80) return {p + i, 64};
  std::memcpy(tail, p + i, avail);
  std::memset(tail + avail, 0, sizeof tail - avail);
  return {tail, avail < 64 ? avail : 64};
}

// Parser: '<', '&' and '\r' (stop) and bytes that are not XML white space (text).
struct parse_masks {
  std::uint64_t stop, text;
};
inline parse_masks parse_masks64(const unsigned char* p) noexcept {
#if defined(__SSE2__)
  parse_masks r{0, 0};
  const __m128i lt = _mm_set1_epi8('<'), amp = _mm_set1_epi8('&'), cr = _mm_set1_epi8('\r');
  const __m128i sp = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t'), nl = _mm_set1_epi8('\n');
  for (int k = 0; k < 4; ++k) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    const __m128i is_cr = _mm_cmpeq_epi8(v, cr);
    const __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, amp)), is_cr);
    const __m128i space =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, tab)), _mm_or_si128(_mm_cmpeq_epi8(v, nl), is_cr));
    r.stop |= static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(stop))) << (16 * k);
    r.text |= static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(space)) ^ 0xFFFFu) << (16 * k);
  }
  return r;
#else
  parse_masks r{0, 0};
  for (int i = 0; i < 64; ++i) {
    const unsigned char c = p[i];
    r.stop |= static_cast<std::uint64_t>(c == '<' || c == '&' || c == '\r') << i;
    r.text |= static_cast<std::uint64_t>(!(c == ' ' || c == '\t' || c == '\n' || c == '\r')) << i;
  }
  return r;
#endif
}

// Copies n <= 64 bytes in 16-byte pieces: reads src[0 .. n rounded up to 16) and writes as
// much at dst; both must have that room.
inline void copy_run(char* dst, const unsigned char* src, std::size_t n) noexcept {
  std::size_t j = 0;
  do {
    std::memcpy(dst + j, src + j, 16);
    j += 16;
  } while (j < n);
}

}  // namespace xgate::detail::simd
