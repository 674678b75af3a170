// The state behind from_xml: the parsed document (xml_tree), the pool of shared objects, ids of
// objects that raw pointers aim at, and the work list that fills shared objects without
// recursing along the graph (so a 100k-long chain of shared_ptr cannot overflow the stack).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <typeindex>
#include <unordered_map>
#include <vector>

#include <xgate/xmlcodec/error.hpp>
#include <xgate/xmlcodec/options.hpp>
#include <xgate/xmlcodec/detail/xml_tree.hpp>

namespace xgate::detail {

struct type_entry;

// Ids as written (xg:id="o17") to slots. The spelling xgate writes is looked up by its
// number in a vector; any other spelling goes through a hash map.
class id_index {
 public:
  static constexpr std::uint32_t none = 0xffffffffu;
  void limit(std::size_t max_number) { max_ = max_number; }
  std::uint32_t find(std::string_view id) const;
  bool insert(std::string_view id, std::uint32_t value);  // false when the id is taken

 private:
  bool number_of(std::string_view id, std::uint32_t& n) const noexcept;
  std::size_t max_ = 0;
  std::vector<std::uint32_t> by_number_;  // value + 1; 0 = absent
  std::unordered_map<std::string_view, std::uint32_t> by_name_;
};

class decoder;
using erased_fill = void (*)(decoder&, xnode, void* object);
using erased_reset = void (*)(void* object);

class decoder {
 public:
  decoder(std::string_view text, const decode_options& options);
  ~decoder();
  decoder(const decoder&) = delete;
  decoder& operator=(const decoder&) = delete;

  const decode_options& options() const noexcept { return options_; }
  bool strict() const noexcept { return options_.strict; }

  // ---- errors ------------------------------------------------------------------------
  [[noreturn]] void fail(errc code, xnode where, const std::string& detail) const;
  std::string path_of(xnode n) const;
  std::size_t line_of(std::ptrdiff_t offset) const;
  std::string location_of(xnode n) const;  // "DOC:LINE PATH"
  // An attribute's value (unescaped), or empty when absent; `found` tells the two apart.
  std::string_view attr(xnode n, std::string_view name, bool* found = nullptr) const;
  std::string principal_name() const { return options_.principal.empty() ? "(anonymous)" : options_.principal; }

  // ---- structure ---------------------------------------------------------------------
  // Parses, checks the frame (<xg:doc>, rights, signature), indexes the pool, and checks
  // the principal's access.
  void open_document();
  // The same without the access check. False (when !require_xgate) for well-formed XML
  // that is not an xgate document.
  bool open_frame(bool require_xgate);
  xnode root_object() const noexcept { return root_object_; }
  const std::optional<xgate::rights>& document_rights() const noexcept { return rights_; }
  bool signed_document() const noexcept { return signed_; }
  std::string_view signature_key_name() const noexcept { return signature_key_; }

  // Nesting needs no guard here: the parser refuses documents deeper than limits.max_depth,
  // and decoding descends no deeper than the document.

  // Element children, skipping whitespace-only text; other text is an error.
  xnode first_element(xnode parent) const {
    if (!parent.has_children()) {
      if (parent.tree()->at(parent.index()).text_len != 0) check_no_text(parent);
      return {};
    }
    xnode n = parent.first_child();
    if (n.is_text()) text_where_elements_stand(parent, n);
    return n;
  }
  xnode next_element(xnode n) const {
    xnode s = n.next_sibling();
    if (s && s.is_text()) text_where_elements_stand(n.parent(), s);
    return s;
  }
  // Text of a scalar element (trimmed of XML white space); no child elements allowed.
  std::string_view scalar_text(xnode n) const {
    constexpr std::uint8_t slow = xml_tree::has_children | xml_tree::has_refs | xml_tree::has_markup | xml_tree::has_cr;
    if (n.flags() & slow) return scalar_text_slow(n);
    std::string_view text = n.tree()->raw_text(n.index());
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
  }
  void read_string(xnode n, std::string& out) const;
  void read_base64(xnode n, std::vector<unsigned char>& out) const;
  bool is_nil(xnode n) const;
  unsigned version_of(xnode n, std::string_view type, unsigned current) const;

  // ---- rights ---------------------------------------------------------------------------
  // Per-object rights (xg:read, xg:write, ... on the element) over the document's.
  rights_override read_overrides(xnode n) const;
  struct access { bool readable, writable; };
  access object_access(xnode n) const;

  // ---- identity ----------------------------------------------------------------------
  // An object carrying xg:id inside the tree (target of raw pointers).
  void register_inline(xnode n, void* object, std::type_index type);
  std::size_t inline_mark() const noexcept { return inline_.size(); }
  std::size_t fixup_mark() const noexcept { return fixups_.size(); }
  // An object decoded into a temporary and then moved into a set or map key: move what
  // was recorded for it since the marks.
  void relocate(std::size_t inline_mark, std::size_t fixup_mark, const void* from, std::size_t size, void* to);

  struct shared_object {
    std::shared_ptr<void> holder;
    void* address;
    std::type_index type;
  };
  // The object an xg:ref names, creating it on first use. `expected` is the static type of
  // the pointer; `fill` fills it when the pointee is not polymorphic; `polymorphic` says to
  // resolve the element name through the registry. Returns the address cast to `expected`.
  struct ref_request {
    std::type_index expected;
    std::string_view expected_name;  // element name for the non-polymorphic case
    bool polymorphic;
    std::shared_ptr<void> (*create)();  // non-polymorphic: make_shared<T>
    erased_fill fill;
    erased_reset reset;
    bool strong;  // shared_ptr (owns) rather than weak_ptr
  };
  std::pair<std::shared_ptr<void>, void*> resolve_shared(xnode at, const ref_request& req);
  // A raw pointer: resolved when everything is decoded (addresses are final then).
  using raw_assign = void (*)(void* slot, void* value);
  void add_fixup(xnode at, void* slot, std::type_index expected, raw_assign assign);

  // Casts an object of dynamic type `from` to `to` through the registry; nullptr if unrelated.
  static void* cast(void* address, std::type_index from, std::type_index to);
  const type_entry& registered(xnode at, std::string_view name) const;

  // Fills queued shared objects, resolves raw pointers, checks every pool object was used.
  void finish();

 private:
  struct pool_entry {
    xnode node;
    std::shared_ptr<void> holder;
    void* address = nullptr;
    std::type_index type = typeid(void);
    erased_reset reset = nullptr;
  };
  struct inline_entry {
    void* address;
    std::type_index type;
  };
  struct fill_task {
    xnode node;
    void* object;
    erased_fill fill;
    std::uint32_t owner;  // 1 + the pool slot being filled
  };
  struct fixup {
    xnode node;
    void* slot;
    std::type_index expected;
    raw_assign assign;
  };
  void verify_signature();
  [[noreturn]] void text_where_elements_stand(xnode parent, xnode text) const;
  void check_no_text(xnode leaf) const;
  std::string_view scalar_text_slow(xnode n) const;
  static bool is_space(char c) noexcept { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
  static std::string_view raw_id(xnode n);
  static std::string_view raw_ref(xnode n);
  void break_cycles() noexcept;

  std::string_view text_;
  const decode_options& options_;
  xml_tree tree_;
  mutable std::string scratch_, attr_scratch_;  // unescaped text of the value being read
  xnode root_object_;
  std::optional<xgate::rights> rights_;
  bool signed_ = false;
  std::string signature_key_;

  static constexpr std::uint32_t inline_bit = 0x80000000u;  // in ids_: an inline object, not a pool one
  id_index ids_;
  std::vector<pool_entry> pool_;      // in document order
  std::vector<inline_entry> inline_;  // in the order they were decoded
  // Ownership: which object (0 = the root, else 1 + pool slot) holds a shared_ptr to which.
  std::uint32_t current_owner_ = 0;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> owns_;
  void check_ownership();
  std::vector<fill_task> work_;
  std::vector<fixup> fixups_;
  bool finished_ = false;
};

}  // namespace xgate::detail
