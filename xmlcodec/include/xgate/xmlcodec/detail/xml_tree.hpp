// A compact, read-only XML tree built in one pass over the caller's bytes, for decoding.
//
// Why not pugixml's DOM here: an element like <qty>3</qty> costs pugixml two 64-byte nodes
// plus a copy of the text; here it is one 24-byte node pointing into the input, and text is
// unescaped only when read. That is what keeps decoding near parse speed and its memory
// near the document's size. pugixml stays for general DOM work (XPath, tools).
//
// The parser checks well-formedness (names, quoting, nesting, duplicate attributes), refuses
// DOCTYPE and entity declarations, allows only the five predefined entities and character
// references to characters XML can carry, and enforces the size and depth limits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <xgate/xmlcodec/error.hpp>

namespace xgate::detail {

class xml_tree {
 public:
  enum flag : std::uint8_t {
    is_element = 1,
    is_text = 2,
    is_attribute = 4,
    has_refs = 8,      // contains & references
    has_markup = 16,   // contains CDATA, comments or processing instructions
    has_cr = 32,       // contains a carriage return (line ends are normalised on reading)
    has_children = 64  // an element with element (or text-node) children
  };
  // Elements, text runs and attributes share one array in document order. An element's
  // attributes occupy the `attrs` slots right after it. For an attribute, name is its name
  // and text its (raw) value; for a leaf element, text is its raw content.
  struct node {
    std::uint32_t name_off = 0;
    std::uint16_t name_len = 0;
    std::uint8_t attrs = 0;
    std::uint8_t flags = 0;
    std::uint32_t text_off = 0, text_len = 0;
    std::uint32_t first_child = 0, next_sibling = 0;  // 0 = none (node 0 is the document)
  };
  static_assert(sizeof(node) == 24);

  struct parse_error {
    errc code;
    std::size_t offset;
    std::string message;
    std::string path;
  };

  xml_tree() = default;
  ~xml_tree();
  xml_tree(const xml_tree&) = delete;
  xml_tree& operator=(const xml_tree&) = delete;

  // Returns false and fills `error` when the input is not acceptable.
  bool parse(std::string_view text, std::size_t max_depth, parse_error& error);

  std::string_view source() const noexcept { return src_; }
  const node& at(std::uint32_t i) const noexcept { return nodes_[i]; }
  std::uint32_t root() const noexcept { return nodes_.size() > 1 ? nodes_[0].first_child : 0; }
  std::string_view name(std::uint32_t i) const noexcept { return src_.substr(nodes_[i].name_off, nodes_[i].name_len); }
  std::string_view raw_text(std::uint32_t i) const noexcept { return src_.substr(nodes_[i].text_off, nodes_[i].text_len); }
  std::uint32_t parent(std::uint32_t i) const;  // computed on demand (error paths)
  std::size_t node_count() const noexcept { return nodes_.size(); }

  // Unescapes text or an attribute value (references, CDATA, comments, line ends) into
  // out, replacing (unescape) or extending (unescape_append) it.
  static void unescape(std::string_view raw, std::uint8_t flags, std::string& out) {
    out.clear();
    unescape_append(raw, flags, out);
  }
  static void unescape_append(std::string_view raw, std::uint8_t flags, std::string& out);
  // unescape_append for text that may hold only characters XML can carry (string values),
  // checking them on the way, 64 bytes at a time. Returns false when it meets a byte XML
  // cannot carry or markup (CDATA, comments) it leaves to the general path; `out` then holds
  // unspecified bytes past its old size, and the caller resizes it and takes that path
  // (unescape_append and its own check), which reports the error.
  static bool unescape_append_checked(std::string_view raw, std::uint8_t flags, std::string& out);

 private:
  std::string_view src_;
  std::vector<node> nodes_;
  mutable std::vector<std::uint32_t> parents_;
};

// A handle on an element (or text run) of an xml_tree; small and cheap to copy.
class xnode {
 public:
  xnode() = default;
  xnode(const xml_tree* t, std::uint32_t i) : t_(t), i_(i) {}
  explicit operator bool() const noexcept { return i_ != 0; }
  bool operator==(const xnode& o) const noexcept { return i_ == o.i_; }
  std::uint32_t index() const noexcept { return i_; }
  const xml_tree* tree() const noexcept { return t_; }
  std::string_view name() const noexcept { return t_->name(i_); }
  std::uint8_t flags() const noexcept { return t_->at(i_).flags; }
  bool is_text() const noexcept { return flags() & xml_tree::is_text; }
  bool has_children() const noexcept { return flags() & xml_tree::has_children; }
  xnode first_child() const noexcept { return {t_, t_->at(i_).first_child}; }
  xnode next_sibling() const noexcept { return {t_, t_->at(i_).next_sibling}; }
  xnode parent() const { return {t_, t_->parent(i_)}; }
  bool has_attributes() const noexcept { return t_->at(i_).attrs != 0; }
  std::size_t offset() const noexcept { return is_text() ? t_->at(i_).text_off : t_->at(i_).name_off; }
  // The raw value of attribute `name`, or nullptr-like empty view with found=false.
  bool attribute(std::string_view name, std::string_view& raw, std::uint8_t& flags) const noexcept {
    const auto& n = t_->at(i_);
    for (std::uint32_t a = i_ + 1; a <= i_ + n.attrs; ++a)
      if (t_->name(a) == name) {
        raw = t_->raw_text(a);
        flags = t_->at(a).flags;
        return true;
      }
    return false;
  }
  bool has_attribute(std::string_view name) const noexcept {
    std::string_view v;
    std::uint8_t f;
    return attribute(name, v, f);
  }

 private:
  const xml_tree* t_ = nullptr;
  std::uint32_t i_ = 0;
};

}  // namespace xgate::detail
