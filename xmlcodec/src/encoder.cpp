#include <cmath>
#include <cstring>
#include <utility>

#include <sodium.h>

#include <xgate/xmlcodec/detail/encoder.hpp>
#include <xgate/xmlcodec/signing.hpp>

#include "ownership.hpp"
#include "simd_scan.hpp"
#include "text.hpp"

namespace xgate::detail {

void ensure_sodium();

class signer {
 public:
  explicit signer(const signing_key& key) : key_(key) {
    ensure_sodium();
    crypto_sign_init(&state_);
  }
  void update(const char* p, std::size_t n) { crypto_sign_update(&state_, reinterpret_cast<const unsigned char*>(p), n); }
  std::array<unsigned char, crypto_sign_BYTES> finish() {
    std::array<unsigned char, crypto_sign_BYTES> sig{};
    crypto_sign_final_create(&state_, sig.data(), nullptr, key_.secret().data());
    return sig;
  }
  const std::string& key_name() const { return key_.name(); }

 private:
  const signing_key& key_;
  crypto_sign_state state_;
};

namespace {
// Bytes that can be copied into element content as they are.
struct plain_table {
  bool plain[256];
  constexpr plain_table() : plain() {
    for (int c = 0; c < 256; ++c) plain[c] = (c >= 0x20 && c < 0x80 && c != '<' && c != '>' && c != '&') || c == '\t' || c == '\n';
  }
};
constexpr plain_table plain_bytes;
constexpr char hex_digits[] = "0123456789ABCDEF";
constexpr std::size_t sink_chunk = 64 * 1024;
}  // namespace

namespace {
// The last output buffer of this thread, kept while it is at most this large: encoding
// documents one after another then writes into memory that is already mapped, which saves
// the page faults and copies of growing a fresh buffer (most of the encode time for big
// documents). Larger buffers are returned to the allocator.
constexpr std::size_t keep_at_most = std::size_t{64} << 20;
struct spare_buffer {
  char* data = nullptr;
  std::size_t capacity = 0;
  ~spare_buffer() { std::free(data); }
};
thread_local spare_buffer spare;
}  // namespace

encoder::encoder(const encode_options& options, xml_sink* sink)
    : options_(options), sink_(sink), indent_(options.indent < 0 ? 0 : options.indent),
      max_depth_(static_cast<int>(options.max_depth)) {
  if (!sink && spare.data) {
    buffer_.reset(std::exchange(spare.data, nullptr));
    cap_ = std::exchange(spare.capacity, 0);
  } else {
    cap_ = sink ? sink_chunk : 64 * 1024;
    buffer_.reset(static_cast<char*>(std::malloc(cap_)));
    if (!buffer_) throw std::bad_alloc();
  }
  if (options.sign) signer_ = std::make_unique<signer>(*options.sign);
}

encoder::~encoder() {
  if (!sink_ && buffer_ && cap_ <= keep_at_most && cap_ > spare.capacity) {
    std::free(spare.data);
    spare.data = buffer_.release();
    spare.capacity = cap_;
  }
}

void encoder::grow(std::size_t n) {
  if (sink_ && size_ > 0) {
    flush();
    if (cap_ - size_ >= n) return;
  }
  std::size_t want = std::max(cap_ * 2, size_ + n);
  char* p = static_cast<char*>(std::realloc(buffer_.get(), want));
  if (!p) throw std::bad_alloc();
  buffer_.release();
  buffer_.reset(p);
  cap_ = want;
}

void encoder::flush() {
  if (signer_) signer_->update(data(), size_);
  sink_->write(data(), size_);
  size_ = 0;
}

std::string encoder::take_output() { return std::string(data(), size_); }

void encoder::take_output(std::string& out) { out.assign(data(), size_); }

void encoder::begin_document() {
  if (options_.declaration) {
    put(std::string_view("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    newline();
  }
  put(std::string_view("<xg:doc xmlns:xg=\"urn:xgate:1\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"));
  newline();
  depth_ = 1;
  if (options_.rights) {
    const rights& r = *options_.rights;
    if (!r.creator.empty() && !is_valid_principal(r.creator))
      throw encode_error("invalid creator name \"" + r.creator + "\"");
    open("xg:rights");
    attr("creator", r.creator);
    attr("read", join_principals(r.read));
    attr("write", join_principals(r.write));
    attr("delete", join_principals(r.del));
    attr("copy", join_principals(r.copy));
    empty();
  }
}

void encoder::write_pool() {
  while (!pool_.empty()) {
    pending p = pool_.front();
    pool_.pop_front();
    forced_id_ = p.id;
    current_owner_ = p.id;
    p.fn(*this, p.tag, p.address);
    if (forced_id_ != 0) throw encode_error("internal: a shared object was written without its id");
  }
}

// What the decoder will insist on (decoder::check_ownership): every shared object is owned
// through shared_ptrs from the root. Refused here so that xgate never writes a document
// it would refuse to read.
void encoder::check_ownership() const {
  const std::vector<bool> owned = owned_from_root(next_id_, owns_);
  for (std::uint32_t id = 1; id < next_id_; ++id)
    if (has(id, pooled) && !owned[id])
      throw encode_error("object o" + std::to_string(id) +
                         " is reached only through weak_ptr (or a cycle of shared_ptrs nothing in the graph owns): "
                         "a decoded copy could not keep it alive");
}

void encoder::end_document() {
  check_ownership();
  for (std::uint32_t id = 1; id < state_.size(); ++id)
    if (has(id, raw_referenced) && !has(id, written))
      throw encode_error("a raw pointer aims at an object that is not part of the encoded graph (id o" +
                         std::to_string(id) + " was never written)");
  depth_ = 1;
  if (signer_) {
    pad();
    // The signature covers every byte before "<xg:signature".
    if (sink_) flush();
    else signer_->update(data(), size_);
    auto sig = signer_->finish();
    put(std::string_view("<xg:signature"));
    attr("alg", "ed25519ph");
    attr("key", signer_->key_name());
    begin_text();
    base64(sig.data(), sig.size());
    end_text("xg:signature");
  }
  depth_ = 0;
  put(std::string_view("</xg:doc>"));
  newline();
  if (sink_) flush();
}

void encoder::attr(std::string_view name, std::string_view value) {
  put(' ');
  put(name);
  put("=\"", 2);
  for (char ch : value) {
    switch (ch) {
      case '"': put("&quot;", 6); break;
      case '&': put("&amp;", 5); break;
      case '<': put("&lt;", 4); break;
      case '>': put("&gt;", 4); break;
      case '\t': put("&#9;", 4); break;
      case '\n': put("&#10;", 5); break;
      case '\r': put("&#13;", 5); break;
      default: put(ch);
    }
  }
  put('"');
}

void encoder::attr_id(std::string_view name, std::uint32_t id) {
  put(' ');
  put(name);
  put("=\"o", 3);
  integer(id);
  put('"');
}

void encoder::attr_uint(std::string_view name, std::uint64_t value) {
  put(' ');
  put(name);
  put("=\"", 2);
  integer(value);
  put('"');
}

void encoder::write_pending_rights() {
  const rights_override* r = pending_rights_;
  pending_rights_ = nullptr;
  static constexpr std::pair<right, std::string_view> names[] = {
      {right::read, "xg:read"}, {right::write, "xg:write"}, {right::del, "xg:delete"}, {right::copy, "xg:copy"}};
  for (auto [which, name] : names)
    if (const auto& list = r->list(which)) attr(name, join_principals(*list));
}

void encoder::text(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64)
    if (const std::uint64_t m = simd::escape_mask64(p + i)) return text_slow(s, i + simd::ctz64(m));
  while (i < n && plain_bytes.plain[p[i]]) ++i;
  if (i == n) return put(s);
  text_slow(s, i);
}

namespace {
// For the ASCII bytes escape_mask64 stops at: what to write (padded to 8 bytes, so every
// one is a fixed-size copy) and its length; 0 for control characters, which XML cannot
// carry (they become <xg:x>HEX</xg:x>).
struct ascii_replacements {
  char text[128][8];
  std::uint8_t length[128];
  constexpr ascii_replacements() : text(), length() {
    for (int c = 0; c < 128; ++c) {
      const char* r = c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : c == '\r' ? "&#13;" : nullptr;
      if (r) {
        int k = 0;
        for (; r[k]; ++k) text[c][k] = r[k];
        length[c] = static_cast<std::uint8_t>(k);
      } else if (c < 0x20 && c != '\t' && c != '\n') {
        length[c] = 0;
      } else {
        text[c][0] = static_cast<char>(c);
        length[c] = 1;
      }
    }
  }
};
constexpr ascii_replacements ascii;

std::string_view space_ref(char c) {
  switch (c) {
    case ' ': return "&#32;";
    case '\t': return "&#9;";
    case '\n': return "&#10;";
    default: return "&#13;";
  }
}
}  // namespace

// Bytes are copied, escaped as entities, or, when XML cannot carry them at all, written as
// <xg:x>HEX</xg:x>. A string with such escapes is mixed content, where a parser may drop
// white-space-only text between elements: when a hex escape ends such a run (or the string
// ends after one), the run already written is rewritten as character references.
//
// 64 bytes at a time: a mask of the bytes that need attention (escape_mask64), the clean
// runs between them copied in 16-byte pieces, and each such byte (or UTF-8 character)
// handled without branching on its kind, except for the bytes that become hex escapes.
// Blocks read 80 bytes (64 scanned, up to 16 more by the last piece of a run or a UTF-8
// character starting in the block); the last bytes of the string are copied into a zero
// padded buffer first, so nothing is read past its end (zeros are never continuation
// bytes, so a character cut by the end of the string stays invalid).
void encoder::text_slow(std::string_view s, std::size_t first) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  // Worst case: every byte a hex escape of its own ("<xg:x>HH</xg:x>", 15 bytes); + 96:
  // the fixed-size copies may write past the last byte.
  char* out = reserve(n * 15 + 96);
  char* const begin = out;
  std::memcpy(out, s.data(), first);
  out += first;
  std::size_t run_in = 0;  // where the text since the last hex escape starts, in s and in out
  char* run_out = begin;
  bool mixed = false;
  auto protect_space_run = [&](std::size_t end) {
    if (run_in == end) return;
    for (std::size_t k = run_in; k < end; ++k)
      if (!is_xml_space(s[k])) return;
    out = run_out;
    for (std::size_t k = run_in; k < end; ++k) {
      std::string_view ref = space_ref(s[k]);
      std::memcpy(out, ref.data(), ref.size());
      out += ref.size();
    }
  };
  alignas(16) unsigned char tail[96];
  for (std::size_t i = first; i < n;) {
    const simd::padded_block piece = simd::block_at(p, i, n, tail);
    const unsigned char* const src = piece.bytes;
    const std::size_t block = piece.size;
    const simd::utf8_masks em = simd::escape_masks64(src);
    const std::uint64_t in_block = simd::bits_below(block);
    std::uint64_t m = em.special & in_block;
    std::size_t cur = 0;
    // The byte at k needs attention; returns where the input continues (within the block).
    auto handle = [&](std::size_t k) -> std::size_t {
      simd::copy_run(out, src + cur, k - cur);
      out += k - cur;
      // Both outcomes are computed and one selected with masks: whether the byte is ASCII
      // is as unpredictable here as which entity or how long a character.
      const unsigned c = src[k];
      const std::size_t high = 0 - static_cast<std::size_t>(c >> 7);  // all ones for c >= 0x80
      const std::size_t u = simd::utf8_char_length4_any(src + k);
      const std::size_t out_len = (u & high) | (ascii.length[c & 0x7F] & ~high);
      if (out_len != 0) [[likely]] {
        const auto from = (reinterpret_cast<std::uintptr_t>(src + k) & high) |
                          (reinterpret_cast<std::uintptr_t>(ascii.text[c & 0x7F]) & ~high);
        std::memcpy(out, reinterpret_cast<const char*>(from), 8);
        out += out_len;
        return k + ((u & high) | (1 & ~high));
      }
      std::size_t at = i + k;
      protect_space_run(at);
      mixed = true;
      std::memcpy(out, "<xg:x>", 6);
      out += 6;
      do {
        *out++ = hex_digits[p[at] >> 4];
        *out++ = hex_digits[p[at] & 15];
        ++at;
      } while (at < n && xml_char_length(p + at, n - at) == 0);
      std::memcpy(out, "</xg:x>", 7);
      out += 7;
      run_in = at;
      run_out = out;
      m &= simd::bits_from(at - i);  // it may have taken more bytes that need attention
      return at - i;
    };
    if (((em.cont ^ em.cont_expected) & in_block) == 0) {
      // Multibyte characters are shaped right: visit only the bytes that start something,
      // so finding the next one does not wait for the length of the last.
      m &= ~em.cont;
      while (m) {
        const std::size_t k = simd::ctz64(m);
        m &= m - 1;
        cur = handle(k);
      }
    } else {
      while (m) {
        cur = handle(simd::ctz64(m));
        m &= simd::bits_from(cur);
      }
    }
    if (cur < block) {
      simd::copy_run(out, src + cur, block - cur);
      out += block - cur;
      cur = block;
    }
    i += cur;
  }
  if (mixed) protect_space_run(n);
  size_ += static_cast<std::size_t>(out - begin);
}

void encoder::base64(const void* bytes, std::size_t size) {
  std::size_t len = sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL);
  char* out = reserve(len);
  sodium_bin2base64(out, len, static_cast<const unsigned char*>(bytes), size, sodium_base64_VARIANT_ORIGINAL);
  size_ += len - 1;  // without the terminating NUL
}

namespace {
template <class F, class U>
void write_nan(encoder& e, U bits, U sign_bit, U quiet_nan, U payload_mask) {
  bool negative = (bits & sign_bit) != 0;
  U rest = bits & ~sign_bit;
  e.raw(negative ? "-NaN" : "NaN");
  if (rest != quiet_nan) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::uint64_t>(bits & payload_mask), 16);
    e.raw("(0x");
    e.raw(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
    e.raw(")");
  }
}
}  // namespace

template <class F>
void encoder::floating(F v) {
  if (std::isnan(v)) {
    if constexpr (sizeof(F) == 8) {
      std::uint64_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      return write_nan<F, std::uint64_t>(*this, bits, 1ull << 63, 0x7ff8000000000000ull, 0x000fffffffffffffull);
    } else {
      std::uint32_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      return write_nan<F, std::uint32_t>(*this, bits, 1u << 31, 0x7fc00000u, 0x007fffffu);
    }
  }
  if (std::isinf(v)) return put(v < 0 ? std::string_view("-INF") : std::string_view("INF"));
  char* p = reserve(32);
  size_ += static_cast<std::size_t>(std::to_chars(p, p + 32, v).ptr - p);
}

void encoder::number(double v) { floating(v); }
void encoder::number(float v) { floating(v); }

std::uint32_t encoder::object_id(const void* address, std::type_index type) {
  if (forced_id_) {
    std::uint32_t id = forced_id_;
    forced_id_ = 0;
    if (has(id, written)) throw encode_error("an object is held both by value and by shared_ptr (it would be written twice)");
    mark(id, written);
    return id;
  }
  if (!track_targets_) return 0;
  object_key key{address, type};
  if (!targets_.count(key)) return 0;
  auto [it, inserted] = ids_.try_emplace(key, next_id_);
  if (inserted) ++next_id_;
  if (has(it->second, written)) throw encode_error("an object is reachable twice by value (it would be written twice)");
  mark(it->second, written);
  return it->second;
}

std::uint32_t encoder::ref_shared(const void* address, std::type_index type, erased_encode fn, std::string_view tag,
                                  bool strong) {
  auto [it, inserted] = ids_.try_emplace(object_key{address, type}, next_id_);
  if (inserted) ++next_id_;
  std::uint32_t id = it->second;
  if (strong) owns_.emplace_back(current_owner_, id);
  if (!has(id, pooled)) {  // a raw pointer may have named it first
    mark(id, pooled);
    pool_.push_back({address, fn, tag, id});
  }
  return id;
}

std::uint32_t encoder::ref_raw(const void* address, std::type_index type) {
  auto [it, inserted] = ids_.try_emplace(object_key{address, type}, next_id_);
  if (inserted) ++next_id_;
  mark(it->second, raw_referenced);
  return it->second;
}

}  // namespace xgate::detail
