// The byte classification of simd_scan.hpp and the escaping and unescaping built on it,
// against scalar references: every byte value at every position within and across the
// 16-byte pieces and 64-byte blocks, the string's tail (copied into a padded buffer), and
// random strings drawn like the benchmark's `strings` workload.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include <xgate/xmlcodec/detail/encoder.hpp>
#include <xgate/xmlcodec/detail/xml_tree.hpp>

#include "simd_scan.hpp"  // xmlcodec/src, through xgate::xmlcodec_internals
#include "test_types.hpp"

namespace {

using xgate::detail::xml_char_length;
namespace simd = xgate::detail::simd;

// ---- scalar references -------------------------------------------------------------------

// The encoder's escaping as it was before SIMD (one table-driven pass), kept as the oracle.
std::string reference_escape(std::string_view s) {
  static const char hex[] = "0123456789ABCDEF";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::string out;
  std::size_t run_in = 0, run_out = 0;
  bool mixed = false;
  auto protect_space_run = [&](std::size_t end) {
    if (run_in == end) return;
    for (std::size_t k = run_in; k < end; ++k)
      if (!xgate::detail::is_xml_space(s[k])) return;
    out.resize(run_out);
    for (std::size_t k = run_in; k < end; ++k)
      out += s[k] == ' ' ? "&#32;" : s[k] == '\t' ? "&#9;" : s[k] == '\n' ? "&#10;" : "&#13;";
  };
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c == '<') out += "&lt;", ++i;
    else if (c == '>') out += "&gt;", ++i;
    else if (c == '&') out += "&amp;", ++i;
    else if (c == '\r') out += "&#13;", ++i;
    else if (std::size_t len = xml_char_length(p + i, n - i)) out.append(s.substr(i, len)), i += len;
    else {
      protect_space_run(i);
      mixed = true;
      out += "<xg:x>";
      do {
        out += hex[p[i] >> 4];
        out += hex[p[i] & 15];
        ++i;
      } while (i < n && xml_char_length(p + i, n - i) == 0);
      out += "</xg:x>";
      run_in = i;
      run_out = out.size();
    }
  }
  if (mixed) protect_space_run(n);
  return out;
}

std::string escape(std::string_view s) {
  xgate::encode_options o;
  xgate::detail::encoder e(o, nullptr);
  e.text(s);
  return e.take_output();
}

// ---- inputs ------------------------------------------------------------------------------

const std::vector<std::size_t>& lengths() {
  static const std::vector<std::size_t> v = [] {
    std::vector<std::size_t> r;
    for (std::size_t n = 1; n <= 20; ++n) r.push_back(n);
    for (std::size_t b : {16, 32, 48, 64, 80, 96, 128, 144, 160, 192})
      for (std::size_t m : {b - 1, b, b + 1}) r.push_back(m);
    return r;
  }();
  return v;
}

// For the every-byte tests: short strings, and the lengths around a 16-byte piece, a 64-byte
// block, the 80 bytes a block reads and a second block.
const std::vector<std::size_t>& few_lengths() {
  static const std::vector<std::size_t> v = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 79, 80, 81, 143, 144, 145};
  return v;
}

// Positions worth a byte of their own: all of a short string; in a longer one those near a
// 16-byte boundary (pieces, blocks, the 80-byte tail) and near the end.
bool interesting(std::size_t pos, std::size_t n) {
  return n <= 24 || pos % 16 <= 1 || pos % 16 >= 13 || pos + 5 >= n;
}

// Sequences to plant: valid characters of every length, the edges of each lead byte's
// second-byte range, U+FFFE/U+FFFF, surrogates, overlongs, truncated and stray bytes.
const std::vector<std::string>& sequences() {
  static const std::vector<std::string> v = {
      "\xC2\x80", "\xC3\xA9", "\xDF\xBF", "\xC1\xBF", "\xC0\x80", "\xC3", "\xC3\x41", "\xC3\xC3",
      "\xE0\xA0\x80", "\xE0\x9F\xBF", "\xE2\x82\xAC", "\xED\x9F\xBF", "\xED\xA0\x80", "\xEF\xBF\xBD",
      "\xEF\xBF\xBE", "\xEF\xBF\xBF", "\xEF\xBE\xBF", "\xE2\x82", "\xE2\x82\x41", "\xE2\xC2\xA9",
      "\xF0\x90\x80\x80", "\xF0\x8F\xBF\xBF", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF", "\xF4\x90\x80\x80",
      "\xF5\x80\x80\x80", "\xF0\x9F\x98", "\xF0\x9F", "\xF0\x9F\x98\x41", "\x80", "\xBF", "\xFE", "\xFF",
      "\x01", "\x7F", " \x01 ", "\x01  \x02", "\t\n\r \x1F", "\r\n", "&amp;", "<x>"};
  return v;
}

std::string workload_like(std::mt19937_64& r, std::size_t len, bool garbage) {
  static const char* const multibyte[] = {"\xC3\xA9", "\xD0\x96", "\xE2\x82\xAC", "\xEF\xBF\xBD", "\xF0\x9F\x98\x80",
                                          "\xF4\x8F\xBF\xBD"};
  std::string s;
  while (s.size() < len) {
    const unsigned k = static_cast<unsigned>(r() % 100);
    if (k < 72) s += static_cast<char>(0x20 + r() % 95);
    else if (k < 80) s += "<&>\"'"[r() % 5];
    else if (k < 92) s += multibyte[r() % std::size(multibyte)];
    else if (k < 96) s += "\t\n\r "[r() % 4];
    else if (garbage) s += static_cast<char>(r() % 256);
    else s += static_cast<char>(r() % 0x20);
  }
  return s;
}

// ---- the primitives ----------------------------------------------------------------------

TEST(SimdScan, Utf8CharLengthMatchesTheScalarOne) {
  const unsigned char tails[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBD, 0xBE, 0xBF, 0xC0, 0xC2, 0xFF};
  for (unsigned b0 = 0x80; b0 < 0x100; ++b0)
    for (unsigned b1 = 0; b1 < 0x100; ++b1)
      for (unsigned char b2 : tails)
        for (unsigned char b3 : tails) {
          const unsigned char q[4] = {static_cast<unsigned char>(b0), static_cast<unsigned char>(b1), b2, b3};
          const std::size_t want = xml_char_length(q, 4);
          if (simd::utf8_char_length4(q) != want)
            FAIL() << std::hex << b0 << ' ' << b1 << ' ' << +b2 << ' ' << +b3 << ": " << simd::utf8_char_length4(q)
                   << " instead of " << want;
          if (simd::utf8_char_length4_any(q) != want) FAIL() << std::hex << b0 << ' ' << b1;
        }
}

TEST(SimdScan, MasksMatchTheScalarClassification) {
  std::mt19937_64 r(1);
  unsigned char block[64];
  for (int round = 0; round < 4; ++round) {
    for (auto& c : block) c = round == 0 ? 'a' : static_cast<unsigned char>(r());
    for (std::size_t pos = 0; pos < 64; ++pos)
      for (unsigned v = 0; v < 256; ++v) {
        unsigned char b[64];
        std::memcpy(b, block, 64);
        b[pos] = static_cast<unsigned char>(v);
        std::uint64_t esc = 0, stop = 0, pstop = 0, ptext = 0, cont = 0, expected = 0;
        for (int i = 0; i < 64; ++i) {
          const unsigned char c = b[i];
          const bool ctl = c < 0x20 && c != '\t' && c != '\n';
          esc |= std::uint64_t{c >= 0x80 || c == '<' || c == '>' || c == '&' || ctl} << i;
          stop |= std::uint64_t{c >= 0x80 || c == '<' || c == '&' || ctl} << i;
          pstop |= std::uint64_t{c == '<' || c == '&' || c == '\r'} << i;
          ptext |= std::uint64_t{!(c == ' ' || c == '\t' || c == '\n' || c == '\r')} << i;
          cont |= std::uint64_t{(c & 0xC0) == 0x80} << i;
          for (int f = 1; f <= (c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0); ++f)
            if (i + f < 64) expected |= std::uint64_t{1} << (i + f);
        }
        const auto em = simd::escape_masks64(b);
        ASSERT_EQ(em.special, esc) << "byte " << v << " at " << pos;
        ASSERT_EQ(em.cont, cont) << "byte " << v << " at " << pos;
        ASSERT_EQ(em.cont_expected, expected) << "byte " << v << " at " << pos;
        const auto tm = simd::text_masks64(b);
        ASSERT_EQ(tm.special, stop) << "byte " << v << " at " << pos;
        ASSERT_EQ(tm.cont, cont) << "byte " << v << " at " << pos;
        ASSERT_EQ(tm.cont_expected, expected) << "byte " << v << " at " << pos;
        const auto pm = simd::parse_masks64(b);
        ASSERT_EQ(pm.stop, pstop) << "byte " << v << " at " << pos;
        ASSERT_EQ(pm.text, ptext) << "byte " << v << " at " << pos;
      }
  }
}

// ---- escaping ----------------------------------------------------------------------------

TEST(SimdEscape, EveryByteAtEveryPosition) {
  for (std::size_t n : few_lengths())
    for (char fill : {'a', ' ', '\xC3'})
      for (std::size_t pos = 0; pos < n; ++pos)
        for (unsigned v = 0; v < 256 && interesting(pos, n); ++v) {
          std::string s(n, fill == '\xC3' ? 'a' : fill);
          if (fill == '\xC3')  // a valid two-byte character ending at pos
            for (std::size_t k = 0; k + 1 < n; k += 3) s[k] = '\xC3', s[k + 1] = '\xA9';
          s[pos] = static_cast<char>(v);
          ASSERT_EQ(escape(s), reference_escape(s)) << "length " << n << ", byte " << v << " at " << pos;
        }
}

TEST(SimdEscape, SequencesAcrossBoundaries) {
  for (std::size_t n : lengths())
    for (const std::string& q : sequences())
      for (std::size_t pos = 0; pos < n; ++pos)
        for (char fill : {'a', ' ', '\x02'}) {
          if (!interesting(pos, n)) continue;
          std::string s(n, fill);
          s.replace(pos, std::min(q.size(), n - pos), q.substr(0, n - pos));
          ASSERT_EQ(escape(s), reference_escape(s)) << "length " << n << ", sequence at " << pos;
          s.resize(pos + std::min(q.size(), n - pos));  // the sequence at the very end
          ASSERT_EQ(escape(s), reference_escape(s)) << "length " << s.size() << ", sequence at the end";
        }
}

TEST(SimdEscape, RandomStrings) {
  std::mt19937_64 r(7);
  for (int i = 0; i < 5000; ++i) {
    const std::size_t len = r() % 4 == 0 ? r() % 2000 : r() % 150;
    const std::string s = workload_like(r, len, i % 2 == 1);
    ASSERT_EQ(escape(s), reference_escape(s)) << i;
  }
}

TEST(SimdEscape, RoundTrips) {
  std::mt19937_64 r(11);
  for (int i = 0; i < 3000; ++i) {
    t::Text in{workload_like(r, r() % 300, i % 2 == 1)};
    t::Text out = xgate::from_xml<t::Text>(xgate::to_xml(in));
    ASSERT_EQ(out.s, in.s) << i;
  }
}

// ---- unescaping and checking ----------------------------------------------------------------

// The decoder's check of a string's text, as it stands in decoder.cpp: every character one
// XML can carry.
bool reference_check(std::string_view t) {
  const auto* p = reinterpret_cast<const unsigned char*>(t.data());
  for (std::size_t i = 0; i < t.size();) {
    const std::size_t k = xml_char_length(p + i, t.size() - i);
    if (k == 0) return false;
    i += k;
  }
  return true;
}

using xgate::detail::xml_tree;
constexpr std::uint8_t all_flags = xml_tree::has_refs | xml_tree::has_cr;

// The checked unescape must give what unescape_append gives whenever that passes the check,
// and give up (false) when it does not; it may also give up on '<'.
void expect_same_unescape(const std::string& raw, std::uint8_t flags) {
  std::string want = "prefix";
  xml_tree::unescape_append(raw, flags, want);
  const bool want_ok = reference_check(std::string_view(want).substr(6));
  std::string got = "prefix";
  const bool ok = xml_tree::unescape_append_checked(raw, flags, got);
  if (ok) {
    ASSERT_TRUE(want_ok) << "accepted what the check refuses";
    ASSERT_EQ(got, want);
  } else {
    // Text the parser refuses (bad references) never reaches it either.
    xml_tree tree;
    xml_tree::parse_error error;
    const std::string doc = "<a>" + raw + "</a>";
    const bool parses = tree.parse(doc, 8, error);
    ASSERT_TRUE(!want_ok || !parses || raw.find('<') != std::string::npos) << "gave up on text the check accepts";
  }
}

TEST(SimdUnescape, EveryByteAtEveryPosition) {
  for (std::size_t n : few_lengths())
    for (std::size_t pos = 0; pos < n; ++pos)
      for (unsigned v = 0; v < 256 && interesting(pos, n); ++v) {
        std::string s(n, 'a');
        for (std::size_t k = 0; k + 2 < n; k += 7) s[k] = '\xC3', s[k + 1] = '\xA9';
        s[pos] = static_cast<char>(v);
        SCOPED_TRACE("length " + std::to_string(n) + ", byte " + std::to_string(v) + " at " + std::to_string(pos));
        expect_same_unescape(s, all_flags);
        if (HasFatalFailure()) return;
      }
}

TEST(SimdUnescape, SequencesAndReferencesAcrossBoundaries) {
  std::vector<std::string> planted = sequences();
  for (const char* r : {"&lt;", "&gt;", "&amp;", "&quot;", "&apos;", "&#13;", "&#x1F600;", "&#10;", "\r", "\r\n", "\r\r\n"})
    planted.push_back(r);
  for (std::size_t n : lengths())
    for (const std::string& q : planted)
      for (std::size_t pos = 0; pos < n; ++pos) {
        if (!interesting(pos, n)) continue;
        std::string s(n, 'b');
        s.replace(pos, std::min(q.size(), n - pos), q.substr(0, n - pos));
        SCOPED_TRACE("length " + std::to_string(n) + ", sequence at " + std::to_string(pos));
        expect_same_unescape(s, all_flags);
        s.resize(pos + std::min(q.size(), n - pos));
        expect_same_unescape(s, all_flags);
        if (HasFatalFailure()) return;
      }
}

TEST(SimdUnescape, RandomText) {
  std::mt19937_64 r(3);
  for (int i = 0; i < 5000; ++i) {
    std::string s = escape(workload_like(r, r() % 4 == 0 ? r() % 2000 : r() % 150, i % 2 == 1));
    if (i % 3 == 0 && !s.empty()) s[r() % s.size()] = static_cast<char>(r());
    SCOPED_TRACE(i);
    expect_same_unescape(s, all_flags);
    if (HasFatalFailure()) return;
  }
}

TEST(SimdUnescape, GivesUpOnMarkup) {
  std::string out;
  EXPECT_FALSE(xml_tree::unescape_append_checked("a<![CDATA[b]]>", xml_tree::has_markup, out));
}

}  // namespace
