#include <algorithm>
#include <cstring>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include <sodium.h>

#include <xgate/xmlcodec.hpp>  // embedded_rights
#include <xgate/xmlcodec/detail/decode.hpp>
#include <xgate/xmlcodec/signing.hpp>

#include "ownership.hpp"
#include "text.hpp"

namespace xgate::detail {

void ensure_sodium();

namespace {
bool all_space(std::string_view s) {
  for (char c : s)
    if (!is_xml_space(c)) return false;
  return true;
}

std::string clip(std::string_view s) {  // for messages: short, no control characters
  std::string out;
  for (char c : s.substr(0, 40)) out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  return s.size() > 40 ? out + "..." : out;
}
}  // namespace

decoder::decoder(std::string_view text, const decode_options& options) : text_(text), options_(options) {}

bool id_index::number_of(std::string_view id, std::uint32_t& n) const noexcept {
  if (id.size() < 2 || id.size() > 10 || id[0] != 'o' || id[1] == '0') return false;
  std::uint64_t v = 0;
  for (char c : id.substr(1)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > max_) return false;  // ids beyond the element count cannot size the vector
  n = static_cast<std::uint32_t>(v);
  return true;
}

std::uint32_t id_index::find(std::string_view id) const {
  std::uint32_t n;
  if (number_of(id, n)) return n < by_number_.size() && by_number_[n] ? by_number_[n] - 1 : none;
  auto it = by_name_.find(id);
  return it == by_name_.end() ? none : it->second;
}

bool id_index::insert(std::string_view id, std::uint32_t value) {
  std::uint32_t n;
  if (number_of(id, n)) {
    if (n >= by_number_.size()) by_number_.resize(std::max<std::size_t>(n + 1, by_number_.size() * 2), 0);
    if (by_number_[n]) return false;
    by_number_[n] = value + 1;
    return true;
  }
  return by_name_.try_emplace(id, value).second;
}

// Ids are compared as written (they never need unescaping); the views point into the input.
std::string_view decoder::raw_id(xnode n) {
  std::string_view v;
  std::uint8_t f;
  return n.attribute("xg:id", v, f) ? v : std::string_view{};
}
std::string_view decoder::raw_ref(xnode n) {
  std::string_view v;
  std::uint8_t f;
  return n.attribute("xg:ref", v, f) ? v : std::string_view{};
}

decoder::~decoder() {
  if (!finished_) break_cycles();
}

// Shared objects may point at each other in cycles; if decoding fails half way, emptying
// each one breaks the cycles so nothing leaks.
void decoder::break_cycles() noexcept {
  for (pool_entry& e : pool_)
    if (e.holder && e.reset) {
      try {
        e.reset(e.address);
      } catch (...) {
      }
    }
}

// ---- errors -----------------------------------------------------------------------------
std::size_t decoder::line_of(std::ptrdiff_t offset) const {
  if (offset < 0) return 0;
  std::size_t end = std::min(text_.size(), static_cast<std::size_t>(offset));
  return 1 + static_cast<std::size_t>(std::count(text_.begin(), text_.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
}

std::string decoder::path_of(xnode n) const {
  std::vector<std::string> parts;
  for (; n; n = n.parent()) {
    if (n.is_text()) continue;
    std::string part(n.name());
    std::size_t before = 0, after = 0, position = 0;
    for (xnode s = n.parent().first_child(); s; s = s.next_sibling()) {
      if (s == n) {
        position = before + 1;
        continue;
      }
      if (!s.is_text() && s.name() == n.name()) (position ? after : before) += 1;
    }
    if (before + after > 0) part += "[" + std::to_string(position) + "]";
    parts.push_back(std::move(part));
  }
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) path += "/" + *it;
  return path;
}

void decoder::fail(errc code, xnode where, const std::string& detail) const {
  throw decode_error(code, options_.document_name, where ? line_of(static_cast<std::ptrdiff_t>(where.offset())) : 0,
                     where ? path_of(where) : "", detail);
}

std::string decoder::location_of(xnode n) const {
  return options_.document_name + ":" + std::to_string(line_of(static_cast<std::ptrdiff_t>(n.offset()))) + " " + path_of(n);
}

std::string_view decoder::attr(xnode n, std::string_view name, bool* found) const {
  std::string_view raw;
  std::uint8_t flags = 0;
  bool has = n.attribute(name, raw, flags);
  if (found) *found = has;
  if (!has) return {};
  if (!(flags & (xml_tree::has_refs | xml_tree::has_cr))) return raw;
  xml_tree::unescape(raw, flags, attr_scratch_);
  return attr_scratch_;
}

// ---- the frame -------------------------------------------------------------------------
void decoder::verify_signature() {
  ensure_sodium();
  const verify_key& key = *options_.verify;
  std::size_t pos = text_.rfind("<xg:signature ");
  if (pos == std::string_view::npos)
    throw signature_error(errc::not_signed, options_.document_name + ": the document is not signed (a key was given to verify it)");
  auto bad = [&](const std::string& why) -> signature_error {
    return signature_error(errc::signature_invalid, options_.document_name + ":" + std::to_string(line_of(static_cast<std::ptrdiff_t>(pos))) + ": " + why);
  };
  std::string_view tail = text_.substr(pos);
  constexpr std::string_view head = "<xg:signature alg=\"ed25519ph\" key=\"";
  if (!tail.starts_with(head)) throw bad("the signature element is not <xg:signature alg=\"ed25519ph\" key=...>");
  tail.remove_prefix(head.size());
  std::size_t q = tail.find('"');
  if (q == std::string_view::npos) throw bad("the signature element is malformed");
  std::string_view key_name = tail.substr(0, q);
  tail.remove_prefix(q + 1);
  if (!tail.starts_with(">")) throw bad("the signature element is malformed");
  tail.remove_prefix(1);
  std::size_t lt = tail.find('<');
  if (lt == std::string_view::npos) throw bad("the signature element is malformed");
  std::string_view b64 = tail.substr(0, lt);
  tail.remove_prefix(lt);
  constexpr std::string_view close = "</xg:signature>";
  if (!tail.starts_with(close)) throw bad("the signature element is malformed");
  tail.remove_prefix(close.size());
  while (!tail.empty() && is_xml_space(tail.front())) tail.remove_prefix(1);
  if (!tail.starts_with("</xg:doc>")) throw bad("content follows the signature: the signature must be the last element");
  tail.remove_prefix(9);
  while (!tail.empty() && is_xml_space(tail.front())) tail.remove_prefix(1);
  if (!tail.empty()) throw bad("content follows the end of the document");
  unsigned char sig[crypto_sign_BYTES];
  std::size_t len = 0;
  if (sodium_base642bin(sig, sizeof sig, b64.data(), b64.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len != sizeof sig)
    throw bad("the signature is not valid base64 of 64 bytes");
  crypto_sign_state st;
  crypto_sign_init(&st);
  crypto_sign_update(&st, reinterpret_cast<const unsigned char*>(text_.data()), pos);
  if (crypto_sign_final_verify(&st, sig, key.bytes().data()) != 0)
    throw bad("the signature does not match (signed with key \"" + std::string(key_name) + "\", checked with key \"" +
              key.name() + "\"): the document was changed after signing, or signed with another key");
}

void decoder::open_document() {
  open_frame(true);
  if (rights_) {
    right wanted = options_.mode == access_mode::read ? right::read : right::write;
    if (!rights_->allows(options_.principal, wanted))
      throw access_denied(principal_name(), to_string(wanted), options_.document_name);
  }
}

bool decoder::open_frame(bool require_xgate) {
  if (text_.size() > options_.limits.max_bytes)
    throw decode_error(errc::too_large, options_.document_name, 0, "",
                       "the document is " + std::to_string(text_.size()) + " bytes, the limit is " +
                           std::to_string(options_.limits.max_bytes));
  if (const void* nul = std::memchr(text_.data(), 0, text_.size()))
    throw decode_error(errc::malformed_xml, options_.document_name,
                       line_of(static_cast<const char*>(nul) - text_.data()), "", "NUL byte in the document");
  if (options_.verify) verify_signature();
  xml_tree::parse_error pe;
  if (!tree_.parse(text_, options_.limits.max_depth, pe))
    throw decode_error(pe.code, options_.document_name, line_of(static_cast<std::ptrdiff_t>(pe.offset)), pe.path, pe.message);
  xnode root(&tree_, tree_.root());
  if (!name_is(root, "xg:doc") || attr(root, "xmlns:xg") != "urn:xgate:1") {
    if (!require_xgate) return false;
    fail(errc::not_xgate_document, root, "not an xgate document: expected <xg:doc xmlns:xg=\"urn:xgate:1\">, found <" + std::string(root.name()) + ">");
  }
  xnode n = first_element(root);
  if (n && name_is(n, "xg:rights")) {
    try {
      xgate::rights r;
      r.creator = attr(n, "creator");
      if (!r.creator.empty() && !is_valid_principal(r.creator)) throw error(errc::bad_value, "invalid creator \"" + clip(r.creator) + "\"");
      r.read = parse_principals(attr(n, "read"));
      r.write = parse_principals(attr(n, "write"));
      r.del = parse_principals(attr(n, "delete"));
      r.copy = parse_principals(attr(n, "copy"));
      rights_ = std::move(r);
    } catch (const decode_error&) {
      throw;
    } catch (const error& e) {
      fail(errc::bad_value, n, e.what());
    }
    n = next_element(n);
  }
  if (!n || name_is(n, "xg:signature")) fail(errc::not_xgate_document, root, "the document holds no object");
  root_object_ = n;
  ids_.limit(tree_.node_count());
  for (n = next_element(n); n; n = next_element(n)) {
    if (name_is(n, "xg:signature")) {
      if (next_element(n)) fail(errc::unexpected_content, next_element(n), "content after the signature");
      signed_ = true;
      signature_key_ = attr(n, "key");
      break;
    }
    std::string_view id = raw_id(n);
    if (id.empty()) fail(errc::unexpected_content, n, "an object after the root must carry xg:id (it is a shared object)");
    if (!ids_.insert(id, static_cast<std::uint32_t>(pool_.size()))) fail(errc::duplicate_id, n, "duplicate xg:id=\"" + clip(id) + "\"");
    pool_.push_back(pool_entry{n, nullptr, nullptr, typeid(void), nullptr});
  }
  if (std::string_view rid = raw_id(root_object_); !rid.empty() && ids_.find(rid) != id_index::none)
    fail(errc::duplicate_id, root_object_, "duplicate xg:id=\"" + clip(rid) + "\"");
  return true;
}

// ---- content ------------------------------------------------------------------------------
void decoder::check_no_text(xnode leaf) const {
  std::string_view raw = leaf.tree()->raw_text(leaf.index());
  if (raw.empty() || all_space(raw)) return;
  xml_tree::unescape(raw, leaf.flags(), scratch_);
  if (!all_space(scratch_)) fail(errc::unexpected_content, leaf, "text \"" + clip(scratch_) + "\" where only elements may stand");
}

void decoder::text_where_elements_stand(xnode parent, xnode text) const {
  xml_tree::unescape(text.tree()->raw_text(text.index()), text.flags(), scratch_);
  fail(errc::unexpected_content, parent, "text \"" + clip(scratch_) + "\" where only elements may stand");
}

std::string_view decoder::scalar_text_slow(xnode n) const {
  if (n.has_children()) {
    for (xnode c = n.first_child(); c; c = c.next_sibling())
      if (!c.is_text()) fail(errc::unexpected_content, c, "element <" + std::string(c.name()) + "> inside a value");
    fail(errc::unexpected_content, n, "a value must be one piece of text");
  }
  std::string_view text = n.tree()->raw_text(n.index());
  if (n.flags() & (xml_tree::has_refs | xml_tree::has_markup | xml_tree::has_cr)) {
    xml_tree::unescape(text, n.flags(), scratch_);
    text = scratch_;
  }
  while (!text.empty() && is_xml_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_xml_space(text.back())) text.remove_suffix(1);
  return text;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}
}  // namespace

namespace {
void check_xml_text(const decoder& d, xnode n, std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t i = 0, len = text.size(); i < len;) {
    if (i + 8 <= len) {  // eight printable ASCII bytes at a time
      std::uint64_t v;
      std::memcpy(&v, p + i, 8);
      constexpr std::uint64_t high = 0x8080808080808080ull, twenty = 0x2020202020202020ull;
      if (((v | ((v - twenty) & ~v)) & high) == 0) {
        i += 8;
        continue;
      }
    }
    if (p[i] >= 0x20 && p[i] < 0x80) {
      ++i;
      continue;
    }
    std::size_t k = xml_char_length(p + i, len - i);
    if (k == 0)
      d.fail(errc::bad_text, n, "a byte XML cannot carry (0x" + std::string{"0123456789ABCDEF"[p[i] >> 4], "0123456789ABCDEF"[p[i] & 15]} +
                                    ") in text; write it as <xg:x>HEX</xg:x>");
    i += k;
  }
}
}  // namespace

void decoder::read_string(xnode n, std::string& out) const {
  const xml_tree& t = *n.tree();
  // The checked unescape handles what strings hold; on anything else (markup, or a byte XML
  // cannot carry) it gives up and the general path unescapes again and reports the error.
  if (!n.has_children()) {
    out.clear();
    if (!xml_tree::unescape_append_checked(t.raw_text(n.index()), n.flags(), out)) [[unlikely]] {
      xml_tree::unescape(t.raw_text(n.index()), n.flags(), out);
      check_xml_text(*this, n, out);
    }
    return;
  }
  out.clear();
  for (xnode c = n.first_child(); c; c = c.next_sibling()) {
    if (c.is_text()) {
      std::size_t from = out.size();
      if (!xml_tree::unescape_append_checked(t.raw_text(c.index()), c.flags(), out)) [[unlikely]] {
        out.resize(from);
        xml_tree::unescape_append(t.raw_text(c.index()), c.flags(), out);
        check_xml_text(*this, n, std::string_view(out).substr(from));
      }
    } else if (name_is(c, "xg:x")) {
      std::string_view hex = scalar_text(c);
      if (hex.empty() || hex.size() % 2 != 0) fail(errc::bad_text, c, "<xg:x> must hold an even, non-zero number of hex digits");
      for (std::size_t i = 0; i < hex.size(); i += 2) {
        int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0) fail(errc::bad_text, c, "<xg:x> holds \"" + clip(hex) + "\", which is not hex");
        out.push_back(static_cast<char>(hi * 16 + lo));
      }
    } else {
      fail(errc::unexpected_content, c, "element <" + std::string(c.name()) + "> inside a string (only <xg:x> may stand there)");
    }
  }
}

void decoder::read_base64(xnode n, std::vector<unsigned char>& out) const {
  ensure_sodium();
  std::string_view b64 = scalar_text(n);
  out.resize(b64.size() / 4 * 3 + 3);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), b64.data(), b64.size(), " \t\r\n", &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64.data() + b64.size())
    fail(errc::bad_base64, n, "invalid base64 \"" + clip(b64) + "\"");
  out.resize(len);
}

bool decoder::is_nil(xnode n) const {
  bool found = false;
  std::string_view v = attr(n, "xsi:nil", &found);
  if (!found) return false;
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  fail(errc::bad_value, n, "xsi:nil=\"" + clip(v) + "\" is neither true nor false");
}

unsigned decoder::version_of(xnode n, std::string_view type, unsigned current) const {
  bool found = false;
  std::string_view v = attr(n, "xg:v", &found);
  if (!found) return 1;
  unsigned version = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), version);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || version == 0)
    fail(errc::bad_value, n, "xg:v=\"" + clip(v) + "\" is not a version number");
  if (version > current)
    fail(errc::version_too_new, n, "type " + std::string(type) + " version " + std::to_string(version) +
                                       " is newer than this program's version " + std::to_string(current));
  return version;
}

rights_override decoder::read_overrides(xnode n) const {
  rights_override r;
  static constexpr std::pair<right, std::string_view> names[] = {
      {right::read, "xg:read"}, {right::write, "xg:write"}, {right::del, "xg:delete"}, {right::copy, "xg:copy"}};
  for (auto [which, name] : names) {
    bool found = false;
    std::string_view value = attr(n, name, &found);
    if (found) {
      try {
        r.list(which) = parse_principals(value);
      } catch (const error& e) {
        fail(errc::bad_value, n, e.what());
      }
    }
  }
  return r;
}

decoder::access decoder::object_access(xnode n) const {
  rights_override o = read_overrides(n);
  auto allowed = [&](right r) {
    xgate::rights eff = rights_ ? *rights_ : xgate::rights{};
    if (o.list(r)) eff.list(r) = *o.list(r);
    else if (!rights_) return true;  // no rights at all: open
    return eff.allows(options_.principal, r);
  };
  return {allowed(right::read), allowed(right::write)};
}

// ---- identity ---------------------------------------------------------------------------
void decoder::register_inline(xnode n, void* object, std::type_index type) {
  std::string_view id = raw_id(n);
  std::uint32_t slot = ids_.find(id);
  if (slot != id_index::none && !(slot & inline_bit) && pool_[slot].node == n) return;  // a pool object: indexed already
  if (slot != id_index::none || !ids_.insert(id, static_cast<std::uint32_t>(inline_.size()) | inline_bit))
    fail(errc::duplicate_id, n, "duplicate xg:id=\"" + clip(id) + "\"");
  inline_.push_back(inline_entry{object, type});
}

void decoder::relocate(std::size_t inline_mark, std::size_t fixup_mark, const void* from, std::size_t size, void* to) {
  auto inside = [&](const void* p) {
    return std::less_equal<const void*>{}(from, p) && std::less<const void*>{}(p, static_cast<const char*>(from) + size);
  };
  auto moved = [&](void* p) { return static_cast<char*>(to) + (static_cast<char*>(p) - static_cast<const char*>(from)); };
  for (std::size_t i = inline_mark; i < inline_.size(); ++i)
    if (inside(inline_[i].address)) inline_[i].address = moved(inline_[i].address);
  for (std::size_t i = fixup_mark; i < fixups_.size(); ++i)
    if (inside(fixups_[i].slot)) fixups_[i].slot = moved(fixups_[i].slot);
}

const type_entry& decoder::registered(xnode at, std::string_view name) const {
  const type_entry* te = find_entry(name);
  if (!te) fail(errc::unknown_type, at, "unknown type <" + clip(name) + "> (not registered with XGATE_REGISTER)");
  if (!te->create_raw) fail(errc::abstract_type, at, "type " + std::string(name) + " cannot be instantiated (abstract or not default-constructible)");
  return *te;
}

void* decoder::cast(void* address, std::type_index from, std::type_index to) {
  if (from == to) return address;
  const type_entry* te = find_entry(from);
  if (!te) return nullptr;
  for (const auto& [base, fn] : te->upcasts)
    if (base == to) return fn(address);
  return nullptr;
}

std::pair<std::shared_ptr<void>, void*> decoder::resolve_shared(xnode at, const ref_request& req) {
  std::string_view id = raw_ref(at);
  if (id.empty()) fail(errc::unexpected_content, at, "a pointer element needs xg:ref or xsi:nil=\"true\"");
  std::uint32_t slot = ids_.find(id);
  if (slot == id_index::none || (slot & inline_bit)) {
    if (slot != id_index::none || id == raw_id(root_object_))
      fail(errc::wrong_ref_type, at, "xg:ref=\"" + clip(id) + "\" names an object that is not shared (it is not at the top level of the document)");
    fail(errc::missing_id, at, "xg:ref=\"" + clip(id) + "\" names no object in the document");
  }
  pool_entry& e = pool_[slot];
  if (!e.holder) {
    std::string_view name = e.node.name();
    if (req.polymorphic) {
      const type_entry& te = registered(e.node, name);
      e.holder = te.create_shared();
      e.type = te.type;
      e.reset = te.reset;
      e.address = e.holder.get();
      work_.push_back({e.node, e.address, te.decode, slot + 1});
    } else {
      if (name != req.expected_name)
        fail(errc::wrong_ref_type, at, "xg:ref=\"" + clip(id) + "\" names a <" + clip(name) + ">, expected <" + std::string(req.expected_name) + ">");
      if (!req.create) fail(errc::abstract_type, at, "the pointee type cannot be instantiated");
      e.holder = req.create();
      e.type = req.expected;
      e.reset = req.reset;
      e.address = e.holder.get();
      work_.push_back({e.node, e.address, req.fill, slot + 1});
    }
  }
  if (req.strong) owns_.emplace_back(current_owner_, slot + 1);
  void* p = cast(e.address, e.type, req.expected);
  if (!p) fail(errc::wrong_ref_type, at, "xg:ref=\"" + clip(id) + "\" names a <" + std::string(e.node.name()) + ">, which cannot stand for the pointer's type");
  return {e.holder, p};
}

// Every shared object must be owned, through shared pointers, from the root: one reached
// only by weak pointers, or by a cycle of shared pointers of its own, would be freed (or
// leak) when decoding ends, leaving weak pointers expired and raw pointers dangling.
void decoder::check_ownership() {
  const std::vector<bool> owned = owned_from_root(pool_.size() + 1, owns_);
  for (std::size_t i = 0; i < pool_.size(); ++i)
    if (pool_[i].holder && !owned[i + 1])
      fail(errc::unreferenced_object, pool_[i].node,
           "object xg:id=\"" + clip(raw_id(pool_[i].node)) +
               "\" is not owned through shared pointers from the root (only weak pointers, or a cycle of its own, lead to it)");
}

void decoder::add_fixup(xnode at, void* slot, std::type_index expected, raw_assign assign) {
  if (raw_ref(at).empty()) fail(errc::unexpected_content, at, "a pointer element needs xg:ref or xsi:nil=\"true\"");
  fixups_.push_back({at, slot, expected, assign});
}

void decoder::finish() {
  for (std::size_t i = 0; i < work_.size(); ++i) {
    fill_task t = work_[i];
    current_owner_ = t.owner;
    t.fill(*this, t.node, t.object);
  }
  check_ownership();
  for (const fixup& f : fixups_) {
    std::string_view id = raw_ref(f.node);
    void* address = nullptr;
    std::type_index type = typeid(void);
    std::uint32_t slot = ids_.find(id);
    if (slot == id_index::none) {
      fail(errc::missing_id, f.node, "xg:ref=\"" + clip(id) + "\" names no object in the document");
    } else if (slot & inline_bit) {
      address = inline_[slot & ~inline_bit].address;
      type = inline_[slot & ~inline_bit].type;
    } else if (pool_[slot].holder) {
      address = pool_[slot].address;
      type = pool_[slot].type;
    } else {
      fail(errc::missing_id, f.node, "xg:ref=\"" + clip(id) + "\" names a shared object that no shared pointer owns");
    }
    void* p = cast(address, type, f.expected);
    if (!p) fail(errc::wrong_ref_type, f.node, "xg:ref=\"" + clip(id) + "\" names an object of another type than the pointer's");
    f.assign(f.slot, p);
  }
  for (const pool_entry& e : pool_)
    if (!e.holder)
      fail(errc::unreferenced_object, e.node, "object xg:id=\"" + clip(raw_id(e.node)) + "\" is not referenced by any shared pointer");
  finished_ = true;
}

// ---- numbers ----------------------------------------------------------------------------
std::size_t count_items(decoder& d, xnode n) {
  std::size_t count = 0;
  for (xnode c = d.first_element(n); c; c = d.next_element(c)) ++count;
  return count;
}

void not_an_item(const decoder& d, xnode n) {
  d.fail(errc::unexpected_content, n, "expected <item>, found <" + std::string(n.name()) + ">");
}

void parse_integer(const decoder& d, xnode n, std::string_view text, long long& out, long long min, long long max) {
  std::string_view t = text;
  if (t.size() > 1 && t[0] == '+' && t[1] != '-') t.remove_prefix(1);
  auto r = std::from_chars(t.data(), t.data() + t.size(), out);
  if (r.ec == std::errc::invalid_argument || r.ptr != t.data() + t.size() || t.empty())
    d.fail(errc::bad_number, n, "\"" + clip(text) + "\" is not an integer");
  if (r.ec == std::errc::result_out_of_range || out < min || out > max)
    d.fail(errc::number_out_of_range, n, "\"" + clip(text) + "\" is out of range (" + std::to_string(min) + ".." + std::to_string(max) + ")");
}

void parse_unsigned(const decoder& d, xnode n, std::string_view text, unsigned long long& out, unsigned long long max) {
  std::string_view t = text;
  if (t.size() > 1 && t[0] == '+' && t[1] != '-') t.remove_prefix(1);
  if (t.size() > 1 && t[0] == '-' && t.find_first_not_of('0', 1) != std::string_view::npos &&
      t.find_first_not_of("0123456789", 1) == std::string_view::npos)
    d.fail(errc::number_out_of_range, n, "\"" + clip(text) + "\" is out of range (0.." + std::to_string(max) + ")");
  if (t.size() > 1 && t[0] == '-') t.remove_prefix(1);  // "-0"
  auto r = std::from_chars(t.data(), t.data() + t.size(), out);
  if (r.ec == std::errc::invalid_argument || r.ptr != t.data() + t.size() || t.empty())
    d.fail(errc::bad_number, n, "\"" + clip(text) + "\" is not an unsigned integer");
  if (r.ec == std::errc::result_out_of_range || out > max)
    d.fail(errc::number_out_of_range, n, "\"" + clip(text) + "\" is out of range (0.." + std::to_string(max) + ")");
}

namespace {
template <class F, class U>
bool parse_special(std::string_view t, F& out, U sign_bit, U quiet_nan, U payload_mask, U exponent_bits, bool& bad) {
  bad = false;
  bool negative = !t.empty() && t[0] == '-';
  std::string_view body = (negative || (!t.empty() && t[0] == '+')) ? t.substr(1) : t;
  if (body == "INF") {
    out = negative ? -std::numeric_limits<F>::infinity() : std::numeric_limits<F>::infinity();
    return true;
  }
  if (!body.starts_with("NaN") || (t[0] == '+')) return false;
  U bits = quiet_nan;
  if (body.size() > 3) {
    std::string_view p = body.substr(3);
    U payload = 0;
    if (!p.starts_with("(0x") || !p.ends_with(")") || p.size() < 5) return bad = true, true;
    auto r = std::from_chars(p.data() + 3, p.data() + p.size() - 1, payload, 16);
    if (r.ec != std::errc() || r.ptr != p.data() + p.size() - 1 || payload == 0 || (payload & ~payload_mask)) return bad = true, true;
    bits = exponent_bits | payload;
  }
  if (negative) bits |= sign_bit;
  std::memcpy(&out, &bits, sizeof out);
  return true;
}

template <class F>
void parse_float_impl(const decoder& d, xnode n, std::string_view text, F& out) {
  std::string_view t = text;
  if (t.size() > 1 && t[0] == '+' && t[1] != '-') t.remove_prefix(1);
  bool digit_start = !t.empty() && (t[0] == '-' || t[0] == '.' || (t[0] >= '0' && t[0] <= '9'));
  if (digit_start && !(t.size() > 1 && t[0] == '-' && (t[1] == 'I' || t[1] == 'N' || t[1] == 'i' || t[1] == 'n'))) {
    auto r = std::from_chars(t.data(), t.data() + t.size(), out);
    if (r.ec == std::errc() && r.ptr == t.data() + t.size()) return;
    if (r.ec == std::errc::result_out_of_range && r.ptr == t.data() + t.size())
      d.fail(errc::number_out_of_range, n, "\"" + clip(text) + "\" is out of range for " + (sizeof(F) == 8 ? "double" : "float"));
    d.fail(errc::bad_number, n, "\"" + clip(text) + "\" is not a number");
  }
  bool bad = false;
  bool special;
  if constexpr (sizeof(F) == 8)
    special = parse_special<double, std::uint64_t>(text, out, 1ull << 63, 0x7ff8000000000000ull, 0x000fffffffffffffull, 0x7ff0000000000000ull, bad);
  else
    special = parse_special<float, std::uint32_t>(text, out, 1u << 31, 0x7fc00000u, 0x007fffffu, 0x7f800000u, bad);
  if (bad) d.fail(errc::bad_number, n, "\"" + clip(text) + "\" is not a NaN spelling (NaN, -NaN, NaN(0xPAYLOAD))");
  if (!special) d.fail(errc::bad_number, n, "\"" + clip(text) + "\" is not a number");
}
}  // namespace

void parse_floating(const decoder& d, xnode n, std::string_view text, double& out) { parse_float_impl(d, n, text, out); }
void parse_floating(const decoder& d, xnode n, std::string_view text, float& out) { parse_float_impl(d, n, text, out); }

bool parse_bool(const decoder& d, xnode n, std::string_view text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  d.fail(errc::bad_value, n, "\"" + clip(text) + "\" is not a bool (true or false)");
}

}  // namespace xgate::detail

namespace xgate {
std::optional<rights> embedded_rights(std::string_view xml, const decode_options& options) {
  detail::decoder d(xml, options);
  if (!d.open_frame(false)) return std::nullopt;
  return d.document_rights();
}
}  // namespace xgate
