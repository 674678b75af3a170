#include <charconv>
#include <cstring>

#include <xgate/xmlcodec/detail/xml_tree.hpp>

#include "simd_scan.hpp"

namespace xgate::detail {

namespace {

struct name_chars {
  bool start[256];
  bool part[256];
  constexpr name_chars() : start(), part() {
    for (int c = 0; c < 256; ++c) {
      bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80;
      start[c] = letter;
      part[c] = letter || (c >= '0' && c <= '9') || c == '.' || c == '-';
    }
  }
};
constexpr name_chars names;

inline bool ws(char c) noexcept { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

bool all_ws(const char* p, const char* e) noexcept {
  for (; p < e; ++p)
    if (!ws(*p)) return false;
  return true;
}

const char* find(const char* p, const char* e, std::string_view what) noexcept {
  if (e - p < static_cast<std::ptrdiff_t>(what.size())) return nullptr;
  return static_cast<const char*>(memmem(p, static_cast<std::size_t>(e - p), what.data(), what.size()));
}

bool xml_char(unsigned long cp) noexcept {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
         (cp >= 0x10000 && cp <= 0x10FFFF);
}

void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

char* put_utf8(char* o, unsigned long cp) noexcept {
  if (cp < 0x80) {
    *o++ = static_cast<char>(cp);
  } else if (cp < 0x800) {
    *o++ = static_cast<char>(0xC0 | (cp >> 6));
    *o++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *o++ = static_cast<char>(0xE0 | (cp >> 12));
    *o++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *o++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *o++ = static_cast<char>(0xF0 | (cp >> 18));
    *o++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *o++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *o++ = static_cast<char>(0x80 | (cp & 0x3F));
  }
  return o;
}

// A reference at p ('&'): its length and code point (or one of the five entities).
// Returns 0 when it is not an allowed reference.
constexpr std::uint64_t word(const char* s) noexcept {  // little-endian bytes of s
  std::uint64_t w = 0;
  for (int k = 0; s[k]; ++k) w |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[k])) << (8 * k);
  return w;
}

std::size_t reference(const char* p, const char* e, unsigned long& cp) noexcept {
  std::size_t avail = static_cast<std::size_t>(e - p);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (avail >= 8) {  // the five entities without a branch on which
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    const std::uint64_t w4 = w & 0xFFFFFFFFull, w5 = w & 0xFFFFFFFFFFull, w6 = w & 0xFFFFFFFFFFFFull;
    const bool lt = w4 == word("&lt;"), gt = w4 == word("&gt;"), amp = w5 == word("&amp;"), quot = w6 == word("&quot;"),
               apos = w6 == word("&apos;");
    const std::size_t len = 4u * lt + 4u * gt + 5u * amp + 6u * quot + 6u * apos;
    if (len != 0) {
      cp = '<' * lt + '>' * gt + '&' * amp + '"' * quot + '\'' * apos;
      return len;
    }
  }
#endif
  auto is = [&](std::string_view s) { return avail >= s.size() && std::memcmp(p, s.data(), s.size()) == 0; };
  if (is("&amp;")) return cp = '&', 5;
  if (is("&lt;")) return cp = '<', 4;
  if (is("&gt;")) return cp = '>', 4;
  if (is("&quot;")) return cp = '"', 6;
  if (is("&apos;")) return cp = '\'', 6;
  if (avail < 4 || p[1] != '#') return 0;
  bool hex = p[2] == 'x';
  const char* d = p + (hex ? 3 : 2);
  const char* semi = static_cast<const char*>(std::memchr(d, ';', std::min<std::size_t>(static_cast<std::size_t>(e - d), 10)));
  if (!semi || semi == d) return 0;
  auto r = std::from_chars(d, semi, cp, hex ? 16 : 10);
  if (r.ec != std::errc() || r.ptr != semi || !xml_char(cp)) return 0;
  return static_cast<std::size_t>(semi + 1 - p);
}

// Checks every reference in [p, e) and notes references and carriage returns in `flags`.
// Returns the first reference that is not allowed, or nullptr.
const char* scan_references(const char* p, const char* e, std::uint8_t& flags) noexcept {
  for (const char* a = p; (a = static_cast<const char*>(std::memchr(a, '&', static_cast<std::size_t>(e - a))));) {
    unsigned long cp;
    std::size_t len = reference(a, e, cp);
    if (len == 0) return a;
    flags |= xml_tree::has_refs;
    a += len;
  }
  if (std::memchr(p, '\r', static_cast<std::size_t>(e - p))) flags |= xml_tree::has_cr;
  return nullptr;
}

std::string clip(const char* p, const char* e) {
  std::string s(p, static_cast<std::size_t>(std::min<std::ptrdiff_t>(e - p, 12)));
  std::size_t semi = s.find(';');
  if (semi != std::string::npos) s.resize(semi + 1);
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  return s;
}

// The thread's last node array, kept while it is at most this large, so that decoding
// documents one after another does not map and fault in fresh memory each time.
constexpr std::size_t keep_nodes_bytes = std::size_t{64} << 20;
thread_local std::vector<xml_tree::node> spare_nodes;

}  // namespace

xml_tree::~xml_tree() {
  if (nodes_.capacity() * sizeof(node) <= keep_nodes_bytes && nodes_.capacity() > spare_nodes.capacity()) {
    nodes_.clear();
    spare_nodes.swap(nodes_);
  }
}

bool xml_tree::parse(std::string_view text, std::size_t max_depth, parse_error& error) {
  src_ = text;
  if (nodes_.capacity() == 0) nodes_.swap(spare_nodes);
  nodes_.clear();
  parents_.clear();
  const char* const b = text.data();
  const char* const e = b + text.size();
  const char* p = b;

  struct frame {
    std::uint32_t node;
    std::uint32_t last_child;
    const char* content;  // start of the text since the last child (or the start tag)
    std::uint8_t flags;   // has_refs / has_markup / has_cr seen in that text
    bool text;            // that text holds more than white space
  };
  std::vector<frame> open;
  open.reserve(32);

  auto fail = [&](errc code, const char* at, std::string message) {
    error.code = code;
    error.offset = static_cast<std::size_t>(at - b);
    error.message = std::move(message);
    error.path.clear();
    for (std::size_t k = 1; k < open.size(); ++k) error.path += "/" + std::string(name(open[k].node));
    return false;
  };
  if (text.size() >= 0xFFFFFFF0u) return fail(errc::too_large, b, "documents of 4 GiB or more are not supported");

  // An element takes at least 4 bytes ("<a/>"); reserving for one per 8 bytes rarely
  // reallocates, and pages never touched cost no memory.
  nodes_.reserve(text.size() / 8 + 16);
  nodes_.push_back(node{});
  open.push_back({0, 0, p, 0, false});

  auto link = [&](std::uint32_t child) {
    frame& f = open.back();
    if (f.last_child == 0) nodes_[f.node].first_child = child;
    else nodes_[f.last_child].next_sibling = child;
    f.last_child = child;
  };
  // Text between children of an element is kept when it is more than white space.
  auto flush_segment = [&](const char* end) {
    frame& f = open.back();
    if (open.size() == 1 || !(f.text || (f.flags & has_refs))) return;
    node n;
    n.flags = static_cast<std::uint8_t>(is_text | f.flags);
    n.text_off = static_cast<std::uint32_t>(f.content - b);
    n.text_len = static_cast<std::uint32_t>(end - f.content);
    nodes_.push_back(n);
    link(static_cast<std::uint32_t>(nodes_.size() - 1));
  };
  auto bad_reference = [&](const char* a, const char* limit) {
    if (a + 2 < limit && a[1] == '#')
      return fail(errc::bad_text, a, "character reference " + clip(a, limit) + " names a character XML cannot carry");
    return fail(errc::forbidden_markup, a,
                "reference to an undeclared entity \"" + clip(a, limit) + "\" (only the five predefined entities are allowed)");
  };

  if (e - p >= 3 && std::memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
  const char* const start = p;
  bool seen_root = false;

  while (p < e) {
    if (*p != '<') {
      // 64 bytes at a time: a mask of '<', '&' and '\r', and one of the bytes that are not
      // white space (the text holds more than white space when one of them lies outside a
      // reference). The last bytes of the document go byte by byte.
      std::uint8_t fl = 0;
      bool text = false;
      const char* q = p;
      // Error messages quote a bad reference up to the next '<' when it starts 64 bytes or
      // more into the text (up to the end of the document before that).
      auto bad_text_reference = [&](const char* a) {
        if (a - p < 64) return bad_reference(a, e);
        const char* lt = static_cast<const char*>(std::memchr(a, '<', static_cast<std::size_t>(e - a)));
        return bad_reference(a, lt ? lt : e);
      };
      bool at_lt = false;
      while (!at_lt && e - q >= 64) {
        const simd::parse_masks pm = simd::parse_masks64(reinterpret_cast<const unsigned char*>(q));
        std::uint64_t stop = pm.stop;
        std::size_t pos = 0;
        while (stop) {
          const std::size_t k = simd::ctz64(stop);
          text |= (pm.text & simd::bits_below(k) & simd::bits_from(pos)) != 0;
          const char c = q[k];
          if (c == '<') {
            pos = k;
            at_lt = true;
            break;
          }
          if (c == '&') {
            unsigned long cp;
            std::size_t len = reference(q + k, e, cp);
            if (len == 0) return bad_text_reference(q + k);
            fl |= has_refs;
            text = true;
            pos = k + len;
            stop &= simd::bits_from(pos);
          } else {  // '\r'
            fl |= has_cr;
            pos = k + 1;
            stop &= stop - 1;
          }
        }
        if (at_lt) {
          q += pos;
        } else {
          text |= (pm.text & simd::bits_from(pos)) != 0;
          q += pos > 64 ? pos : 64;
        }
      }
      if (!at_lt) {
        for (; q < e; ++q) {
          char c = *q;
          if (c == '<') break;
          if (c == '&') {
            unsigned long cp;
            std::size_t len = reference(q, e, cp);
            if (len == 0) return bad_text_reference(q);
            fl |= has_refs;
            text = true;
            q += len - 1;
          } else if (c == '\r') {
            fl |= has_cr;
          } else if (c != ' ' && c != '\n' && c != '\t') {
            text = true;
          }
        }
      }
      // Outside the root only whitespace may stand (CR LF line ends included); a reference is text.
      if (open.size() == 1 && ((fl & has_refs) || text)) return fail(errc::malformed_xml, p, "text outside the root element");
      open.back().flags |= fl;
      open.back().text |= text;
      p = q;
      continue;
    }
    const char* tag = p;
    if (p + 1 < e && p[1] == '/') {  // end tag
      p += 2;
      const char* n0 = p;
      while (p < e && names.part[static_cast<unsigned char>(*p)]) ++p;
      std::string_view end_name(n0, static_cast<std::size_t>(p - n0));
      while (p < e && ws(*p)) ++p;
      if (p >= e || *p != '>') return fail(errc::malformed_xml, tag, "not well-formed XML: malformed end tag");
      if (open.size() == 1) return fail(errc::malformed_xml, tag, "not well-formed XML: end tag </" + std::string(end_name) + "> without a start tag");
      frame& f = open.back();
      std::string_view open_name = name(f.node);
      bool same = open_name.size() == end_name.size();
      for (std::size_t k = 0; same && k < open_name.size(); ++k) same = open_name[k] == end_name[k];
      if (!same)
        return fail(errc::malformed_xml, tag, "not well-formed XML: end tag </" + std::string(end_name) + "> does not match <" + std::string(name(f.node)) + ">");
      node& n = nodes_[f.node];
      if (n.flags & has_children) {
        flush_segment(tag);
      } else {
        n.text_off = static_cast<std::uint32_t>(f.content - b);
        n.text_len = static_cast<std::uint32_t>(tag - f.content);
        n.flags |= f.flags;
      }
      open.pop_back();
      ++p;
      if (open.size() == 1) seen_root = true;
      else open.back().content = p, open.back().flags = 0, open.back().text = false;
      continue;
    }
    if (p + 1 < e && p[1] == '!') {
      std::string_view rest(p, static_cast<std::size_t>(e - p));
      if (rest.starts_with("<!--")) {
        const char* q = find(p + 4, e, "-->");
        if (!q) return fail(errc::malformed_xml, p, "not well-formed XML: unterminated comment");
        open.back().flags |= has_markup;
        p = q + 3;
        continue;
      }
      if (rest.starts_with("<![CDATA[")) {
        if (open.size() == 1) return fail(errc::malformed_xml, p, "CDATA outside the root element");
        const char* q = find(p + 9, e, "]]>");
        if (!q) return fail(errc::malformed_xml, p, "not well-formed XML: unterminated CDATA section");
        open.back().flags |= has_markup;
        if (std::memchr(p, '\r', static_cast<std::size_t>(q - p))) open.back().flags |= has_cr;
        open.back().text |= !all_ws(p + 9, q);
        p = q + 3;
        continue;
      }
      if (rest.starts_with("<!DOCTYPE")) return fail(errc::forbidden_markup, p, "DOCTYPE declarations are refused");
      if (rest.starts_with("<!ENTITY")) return fail(errc::forbidden_markup, p, "entity declarations are refused");
      return fail(errc::forbidden_markup, p, "markup declarations are refused");
    }
    if (p + 1 < e && p[1] == '?') {
      const char* q = find(p + 2, e, "?>");
      if (!q) return fail(errc::malformed_xml, p, "not well-formed XML: unterminated processing instruction");
      std::string_view target(p + 2, static_cast<std::size_t>(std::min<std::ptrdiff_t>(q - p - 2, 4)));
      bool decl = target.size() >= 3 && (target[0] | 0x20) == 'x' && (target[1] | 0x20) == 'm' && (target[2] | 0x20) == 'l' &&
                  (target.size() == 3 || ws(target[3]));
      if (decl && p != start) return fail(errc::malformed_xml, p, "not well-formed XML: the XML declaration must come first");
      open.back().flags |= has_markup;
      p = q + 2;
      continue;
    }
    // Start tag.
    ++p;
    if (p >= e || !names.start[static_cast<unsigned char>(*p)]) return fail(errc::malformed_xml, tag, "not well-formed XML: invalid element name");
    const char* n0 = p;
    while (p < e && names.part[static_cast<unsigned char>(*p)]) ++p;
    if (p - n0 > 0xFFFF) return fail(errc::malformed_xml, tag, "element name too long");
    if (open.size() == 1 && seen_root) return fail(errc::malformed_xml, tag, "more than one root element");
    if (open.size() > max_depth) {
      fail(errc::too_deep, tag, "nesting deeper than " + std::to_string(max_depth) + " elements");
      error.path += "/" + std::string(n0, static_cast<std::size_t>(p - n0));
      return false;
    }
    frame& parent = open.back();
    if (open.size() > 1) {
      node& pn = nodes_[parent.node];
      if (!(pn.flags & has_children)) pn.flags |= has_children;
      flush_segment(tag);
    }
    node n;
    n.name_off = static_cast<std::uint32_t>(n0 - b);
    n.name_len = static_cast<std::uint16_t>(p - n0);
    n.flags = is_element;
    nodes_.push_back(n);
    const std::uint32_t idx = static_cast<std::uint32_t>(nodes_.size() - 1);
    // Attributes.
    for (;;) {
      const char* before = p;
      while (p < e && ws(*p)) ++p;
      if (p >= e) return fail(errc::malformed_xml, tag, "not well-formed XML: unterminated start tag");
      if (*p == '>' || *p == '/') break;
      if (p == before || !names.start[static_cast<unsigned char>(*p)])
        return fail(errc::malformed_xml, p, "not well-formed XML: malformed attribute");
      const char* a0 = p;
      while (p < e && names.part[static_cast<unsigned char>(*p)]) ++p;
      std::string_view aname(a0, static_cast<std::size_t>(p - a0));
      while (p < e && ws(*p)) ++p;
      if (p >= e || *p != '=') return fail(errc::malformed_xml, a0, "not well-formed XML: attribute without a value");
      ++p;
      while (p < e && ws(*p)) ++p;
      if (p >= e || (*p != '"' && *p != '\'')) return fail(errc::malformed_xml, a0, "not well-formed XML: unquoted attribute value");
      const char quote = *p++;
      const char* v0 = p;
      const char* v1 = static_cast<const char*>(std::memchr(p, quote, static_cast<std::size_t>(e - p)));
      if (!v1) return fail(errc::malformed_xml, a0, "not well-formed XML: unterminated attribute value");
      if (std::memchr(v0, '<', static_cast<std::size_t>(v1 - v0))) return fail(errc::malformed_xml, a0, "not well-formed XML: '<' in an attribute value");
      std::uint8_t fl = is_attribute;
      if (const char* bad = scan_references(v0, v1, fl)) return bad_reference(bad, v1);
      for (std::uint32_t k = idx + 1; k < nodes_.size(); ++k)
        if (name(k) == aname) return fail(errc::malformed_xml, a0, "not well-formed XML: duplicate attribute " + std::string(aname));
      if (nodes_.size() - idx > 255) return fail(errc::malformed_xml, a0, "more than 255 attributes");
      node an;
      an.name_off = static_cast<std::uint32_t>(a0 - b);
      an.name_len = static_cast<std::uint16_t>(aname.size());
      an.flags = fl;
      an.text_off = static_cast<std::uint32_t>(v0 - b);
      an.text_len = static_cast<std::uint32_t>(v1 - v0);
      nodes_.push_back(an);
      p = v1 + 1;
    }
    nodes_[idx].attrs = static_cast<std::uint8_t>(nodes_.size() - idx - 1);
    link(idx);
    if (*p == '/') {
      if (p + 1 >= e || p[1] != '>') return fail(errc::malformed_xml, p, "not well-formed XML: malformed empty-element tag");
      p += 2;
      nodes_[idx].text_off = static_cast<std::uint32_t>(p - b);
      if (open.size() == 1) seen_root = true;
      else open.back().content = p, open.back().flags = 0, open.back().text = false;
      continue;
    }
    ++p;
    open.push_back({idx, 0, p, 0, false});
  }
  if (open.size() > 1) return fail(errc::malformed_xml, e, "not well-formed XML: <" + std::string(name(open.back().node)) + "> is not closed");
  if (!seen_root) return fail(errc::malformed_xml, e, "not well-formed XML: no root element");
  return true;
}

std::uint32_t xml_tree::parent(std::uint32_t i) const {
  if (parents_.empty()) {
    parents_.assign(nodes_.size(), 0);
    for (std::uint32_t j = 0; j < nodes_.size(); ++j) {
      if (nodes_[j].flags & is_attribute) continue;
      for (std::uint32_t c = nodes_[j].first_child; c; c = nodes_[c].next_sibling) parents_[c] = j;
      for (std::uint32_t a = j + 1; a <= j + nodes_[j].attrs; ++a) parents_[a] = j;
    }
  }
  return parents_[i];
}

namespace {
struct stop_table {  // bytes that end a plain run of text
  bool stop[256];
  constexpr stop_table() : stop() { stop[static_cast<unsigned char>('&')] = stop[static_cast<unsigned char>('<')] = stop[static_cast<unsigned char>('\r')] = true; }
};
constexpr stop_table stops;
}  // namespace

void xml_tree::unescape_append(std::string_view raw, std::uint8_t flags, std::string& out) {
  if (!(flags & (has_refs | has_markup | has_cr))) {
    out.append(raw);
    return;
  }
  const char* p = raw.data();
  const char* e = p + raw.size();
  while (p < e) {
    char c = *p;
    if (c == '&') {
      unsigned long cp = 0;
      std::size_t len = reference(p, e, cp);
      if (len == 0) {  // validated by the parser; keep the byte rather than lose it
        out.push_back(c);
        ++p;
        continue;
      }
      append_utf8(out, cp);
      p += len;
    } else if (c == '<') {
      std::string_view rest(p, static_cast<std::size_t>(e - p));
      if (rest.starts_with("<![CDATA[")) {
        const char* q = find(p + 9, e, "]]>");
        if (!q) q = e;
        for (const char* k = p + 9; k < q; ++k) {
          if (*k == '\r') {
            out.push_back('\n');
            if (k + 1 < q && k[1] == '\n') ++k;
          } else {
            out.push_back(*k);
          }
        }
        p = q + 3;
      } else {
        std::string_view close = rest.starts_with("<!--") ? "-->" : "?>";
        const char* q = find(p + 2, e, close);
        p = q ? q + close.size() : e;
      }
    } else if (c == '\r') {
      out.push_back('\n');
      p += (p + 1 < e && p[1] == '\n') ? 2 : 1;
    } else {
      const char* q = p + 1;
      while (q < e && !stops.stop[static_cast<unsigned char>(*q)]) ++q;
      out.append(p, static_cast<std::size_t>(q - p));
      p = q;
    }
  }
}

// Like the encoder's escaping: a 64-byte mask of the bytes that end a plain run ('&', '\r',
// '<', control characters, bytes >= 0x80), runs copied in 16-byte pieces, UTF-8 characters
// checked without a branch per byte. Blocks read 80 bytes; the last bytes of the text are
// copied into a zero-padded buffer, so nothing is read past its end.
bool xml_tree::unescape_append_checked(std::string_view raw, std::uint8_t flags, std::string& out) {
  if (flags & has_markup) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  const std::size_t n = raw.size();
  const std::size_t old = out.size();
  // Unescaping never lengthens text; + 64: the fixed-size copies may write past the end.
  out.resize(old + n + 64);
  char* const begin = out.data() + old;
  char* o = begin;
  const char* const e = raw.data() + n;
  alignas(16) unsigned char tail[96];
  for (std::size_t i = 0; i < n;) {
    const simd::padded_block piece = simd::block_at(p, i, n, tail);
    const unsigned char* const src = piece.bytes;
    const std::size_t block = piece.size;
    const simd::utf8_masks tm = simd::text_masks64(src);
    const std::uint64_t in_block = simd::bits_below(block);
    // Multibyte characters must be shaped right (each lead byte is checked below); then
    // only the bytes that start something are visited, and the bytes of a reference or of
    // "\r\n" are never stops, so finding the next stop waits for nothing.
    if ((tm.cont ^ tm.cont_expected) & in_block) return false;
    std::uint64_t m = tm.special & ~tm.cont & in_block;
    std::size_t cur = 0;
    while (m) {
      const std::size_t k = simd::ctz64(m);
      m &= m - 1;
      simd::copy_run(o, src + cur, k - cur);
      o += k - cur;
      const unsigned c = src[k];
      if (c >= 0x80) {
        const std::size_t u = simd::utf8_char_length4_any(src + k);
        if (u == 0) return false;
        std::memcpy(o, src + k, 4);
        o += u;
        cur = k + u;
      } else if (c == '&') {
        unsigned long cp = 0;
        const std::size_t len = reference(raw.data() + i + k, e, cp);
        if (len == 0) return false;
        o = put_utf8(o, cp);
        cur = k + len;
      } else if (c == '\r') {
        *o++ = '\n';
        cur = k + 1 + (i + k + 1 < n && p[i + k + 1] == '\n');
      } else {
        return false;  // a control character or '<'
      }
    }
    if (cur < block) {
      simd::copy_run(o, src + cur, block - cur);
      o += block - cur;
      cur = block;
    }
    i += cur;
  }
  out.resize(old + static_cast<std::size_t>(o - begin));
  return true;
}

}  // namespace xgate::detail
